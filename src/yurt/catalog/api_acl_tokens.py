"""`/v1/acl/token*` and `/v1/acl/role*`: Consul's tokens and roles."""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from yurt.api import routes
from yurt.api.casing import get_field
from yurt.api.durations import SECOND, format_go_duration, parse_go_duration
from yurt.api.errors import APIError
from yurt.catalog.acl_body import check_name, check_uuid, grants, role_links, text, update_target
from yurt.catalog.acl_http import (
    ACL_NOT_FOUND,
    authz,
    checked,
    known,
    request_secret,
    requires,
    resolver_of,
)
from yurt.catalog.acl_model import ACLRole, ACLToken, now_rfc3339
from yurt.catalog.acl_store import ACLStore, new_id
from yurt.catalog.acl_templates import ANONYMOUS_ACCESSOR
from yurt.catalog.api_acl import _body, enabled_only
from yurt.catalog.api_common import answer

MIN_TTL_NS = 60 * SECOND
MAX_TTL_NS = 24 * 3600 * SECOND


def _store(request: web.Request) -> ACLStore:
    return resolver_of(request).store


def _show_secrets(request: web.Request) -> bool:
    # Consul 1.17 shows SecretIDs only to tokens that may write ACLs
    return authz(request).acl_write()


# -- tokens -----------------------------------------------------------------------------


def _expiration(body: dict[str, Any]) -> str:
    ttl_text = text(body, "ExpirationTTL")
    when = text(body, "ExpirationTime")
    if ttl_text and when:
        raise APIError.bad_request("Expiration TTL and Expiration Time cannot both be set")
    if ttl_text:
        try:
            ttl = parse_go_duration(ttl_text)
        except ValueError as exc:
            raise APIError.bad_request(f"ExpirationTTL: {exc}") from None
        if ttl < MIN_TTL_NS:
            raise APIError.bad_request(
                f"Token Expiration TTL '{format_go_duration(ttl)}' should be > than "
                f"{format_go_duration(MIN_TTL_NS)}"
            )
        if ttl > MAX_TTL_NS:
            raise APIError.bad_request(
                f"Token Expiration TTL '{format_go_duration(ttl)}' should be < than "
                f"{format_go_duration(MAX_TTL_NS)}"
            )
        at = datetime.now(UTC) + timedelta(microseconds=ttl // 1000)
        return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if when:
        try:
            at = datetime.fromisoformat(when.replace("Z", "+00:00"))
        except ValueError:
            raise APIError.bad_request(
                f"ExpirationTime: {when!r} is not an RFC 3339 time"
            ) from None
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        if at <= datetime.now(UTC):
            raise APIError.bad_request("ExpirationTime cannot be in the past")
        return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return ""


@enabled_only
@requires("acl", "write")
async def token_create(request: web.Request) -> web.Response:
    store = _store(request)
    body = await _body(request)
    accessor = text(body, "AccessorID")
    secret = text(body, "SecretID")
    check_uuid("Token", "AccessorID", accessor)
    check_uuid("Token", "SecretID", secret)
    if accessor and accessor in store.tokens:
        raise APIError.bad_request("Invalid Token: AccessorID is already in use")
    if secret and store.token_by_secret(secret) is not None:
        raise APIError.bad_request("Invalid Token: SecretID is already in use")
    token = ACLToken(
        accessor_id=accessor or new_id(),
        secret_id=secret or str(uuid.uuid4()),
        description=text(body, "Description"),
        grants=grants(store, body, "token"),
        roles=role_links(store, body),
        local=bool(get_field(body, "Local", False)),
        expiration_time=_expiration(body),
        create_time=now_rfc3339(),
    )
    stored = store.put_token(token)
    return answer(request, stored.to_json())


@enabled_only
@checked("any valid token reads itself")
async def token_self(request: web.Request) -> web.Response:
    resolver = resolver_of(request)
    secret = request_secret(request)
    if not secret:
        raise APIError(403, ACL_NOT_FOUND)
    token = resolver.token_of(secret)
    return answer(request, token.to_json(), index=resolver.store.index)


def _token_or_403(store: ACLStore, accessor: str) -> ACLToken:
    token = store.tokens.get(accessor)
    return known(None if token is None or token.expired() else token)


@enabled_only
@requires("acl", "read")
async def token_read(request: web.Request) -> web.Response:
    store = _store(request)
    token = _token_or_403(store, request.match_info["accessor"])
    return answer(request, token.to_json(secret=_show_secrets(request)), index=store.index)


@enabled_only
@requires("acl", "write")
async def token_update(request: web.Request) -> web.Response:
    store = _store(request)
    accessor = request.match_info["accessor"]
    body = await _body(request)
    old = update_target(
        store.tokens,
        accessor,
        body,
        "AccessorID",
        mismatch="Token update failed: AccessorID in the URL and body differ",
        missing=f"Cannot find token {accessor!r}",
    )
    secret = text(body, "SecretID")
    if secret and secret != old.secret_id:
        raise APIError.bad_request("Changing a token's SecretID is not permitted")
    expiration = _expiration(body)
    if expiration and expiration != old.expiration_time:
        raise APIError.bad_request("Cannot change expiration time of an existing token")
    token = ACLToken(
        accessor_id=accessor,
        secret_id=old.secret_id,
        description=text(body, "Description"),
        grants=grants(store, body, "token"),
        roles=role_links(store, body),
        local=old.local,
        expiration_time=old.expiration_time,
        create_time=old.create_time,
        create_index=old.create_index,
    )
    stored = store.put_token(token)
    return answer(request, stored.to_json())


@enabled_only
@requires("acl", "write")
async def token_delete(request: web.Request) -> web.Response:
    store = _store(request)
    accessor = request.match_info["accessor"]
    if accessor == ANONYMOUS_ACCESSOR:
        raise APIError.bad_request("Delete operation not permitted on the anonymous token")
    if accessor == authz(request).accessor:
        raise APIError.bad_request("Deletion of the request's authorization token is not permitted")
    store.delete_token(accessor)
    return answer(request, True)


@enabled_only
@requires("acl", "write")
async def token_clone(request: web.Request) -> web.Response:
    store = _store(request)
    source = _token_or_403(store, request.match_info["accessor"])
    if source.accessor_id == ANONYMOUS_ACCESSOR:
        raise APIError.bad_request("Cannot clone the anonymous token")
    body = await _body(request)
    clone = ACLToken(
        accessor_id=new_id(),
        secret_id=str(uuid.uuid4()),
        description=text(body, "Description") or source.description,
        grants=copy.deepcopy(source.grants),
        roles=copy.deepcopy(source.roles),
        local=source.local,
        expiration_time=source.expiration_time,
        create_time=now_rfc3339(),
    )
    stored = store.put_token(clone)
    return answer(request, stored.to_json())


@enabled_only
@requires("acl", "read")
async def token_list(request: web.Request) -> web.Response:
    store = _store(request)
    policy = request.query.get("policy", "")
    role = request.query.get("role", "")
    service = request.query.get("servicename", "")
    method = request.query.get("authmethod", "")
    show = _show_secrets(request)
    rows = []
    for token in sorted(store.tokens.values(), key=lambda t: t.accessor_id):
        if policy and all(p.id != policy for p in token.grants.policies):
            continue
        if role and all(r.id != role for r in token.roles):
            continue
        if service and all(s.service_name != service for s in token.grants.service_identities):
            continue
        if method:
            continue  # no token comes from an auth method here
        rows.append(token.to_json(secret=show))
    return answer(request, rows, index=store.index)


# -- roles --------------------------------------------------------------------------------


def _role_from(request: web.Request, body: dict[str, Any], role_id: str) -> ACLRole:
    store = _store(request)
    name = text(body, "Name")
    check_name("Role", name)
    same = store.role_by_name(name)
    if same is not None and same.id != role_id:
        raise APIError.bad_request(f'Invalid Role: A Role with Name "{name}" already exists')
    return ACLRole(
        id=role_id,
        name=name,
        description=text(body, "Description"),
        grants=grants(store, body, "role"),
    )


@enabled_only
@requires("acl", "write")
async def role_create(request: web.Request) -> web.Response:
    body = await _body(request)
    if text(body, "ID"):
        raise APIError.bad_request("Cannot specify an ID when creating a role")
    stored = _store(request).put_role(_role_from(request, body, new_id()))
    return answer(request, stored.to_json())


@enabled_only
@requires("acl", "read")
async def role_read(request: web.Request) -> web.Response:
    store = _store(request)
    role = known(store.roles.get(request.match_info["id"]))
    return answer(request, role.to_json(), index=store.index)


@enabled_only
@requires("acl", "read")
async def role_read_by_name(request: web.Request) -> web.Response:
    store = _store(request)
    role = known(store.role_by_name(request.match_info["name"]))
    return answer(request, role.to_json(), index=store.index)


@enabled_only
@requires("acl", "write")
async def role_update(request: web.Request) -> web.Response:
    store = _store(request)
    rid = request.match_info["id"]
    body = await _body(request)
    old = update_target(
        store.roles,
        rid,
        body,
        "ID",
        mismatch="Role ID in URL and payload do not match",
        missing=f"Cannot find role {rid}",
    )
    role = _role_from(request, body, rid)
    role.create_index = old.create_index
    return answer(request, store.put_role(role).to_json())


@enabled_only
@requires("acl", "write")
async def role_delete(request: web.Request) -> web.Response:
    _store(request).delete_role(request.match_info["id"])
    return answer(request, True)


@enabled_only
@requires("acl", "read")
async def role_list(request: web.Request) -> web.Response:
    store = _store(request)
    policy = request.query.get("policy", "")
    rows = [
        r.to_json()
        for r in sorted(store.roles.values(), key=lambda r: r.id)
        if not policy or any(p.id == policy for p in r.grants.policies)
    ]
    return answer(request, rows, index=store.index)


# This resource's endpoints; `yurt.catalog.app` installs every table.
ROUTES = (
    routes.put("/v1/acl/token", token_create),
    routes.get("/v1/acl/token/self", token_self),
    routes.get("/v1/acl/token/{accessor}", token_read),
    routes.put("/v1/acl/token/{accessor}", token_update),
    routes.delete("/v1/acl/token/{accessor}", token_delete),
    routes.put("/v1/acl/token/{accessor}/clone", token_clone),
    routes.get("/v1/acl/tokens", token_list),
    routes.put("/v1/acl/role", role_create),
    routes.get("/v1/acl/role/name/{name}", role_read_by_name),
    routes.get("/v1/acl/role/{id}", role_read),
    routes.put("/v1/acl/role/{id}", role_update),
    routes.delete("/v1/acl/role/{id}", role_delete),
    routes.get("/v1/acl/roles", role_list),
)

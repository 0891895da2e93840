"""`/v1/acl/*` (bootstrap, policies, templated policies) and `/v1/agent/token/:type`.

Tokens and roles are in `api_acl_tokens`. With ACLs off every one of these answers Consul's
`401 ACL support disabled`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from yurt.api import routes
from yurt.api.casing import get_field
from yurt.api.errors import APIError
from yurt.api.http import expect_object, read_json
from yurt.catalog.acl_body import check_name, strings, text, update_target
from yurt.catalog.acl_http import (
    ACL_DISABLED,
    acl_enabled,
    known,
    node_name,
    open_route,
    requires,
    resolver_of,
)
from yurt.catalog.acl_model import ACLPolicy
from yurt.catalog.acl_rules import RulesError, parse_rules
from yurt.catalog.acl_store import new_id, new_token
from yurt.catalog.acl_templates import GLOBAL_MANAGEMENT_ID, TEMPLATED_POLICIES
from yurt.catalog.api_common import answer, server_of

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

BOOTSTRAP_DESCRIPTION = "Bootstrap Token (Global Management)"
RESET_FILE = "acl-bootstrap-reset"


def enabled_only(handler: Handler) -> Handler:
    """401 "ACL support disabled" while ACLs are off, before anything else."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        if not acl_enabled(request):
            raise APIError(401, ACL_DISABLED)
        return await handler(request)

    wrapped.__name__ = handler.__name__
    rule = getattr(handler, "acl_rule", None)
    if rule is not None:
        wrapped.acl_rule = rule  # type: ignore[attr-defined]
    return wrapped


async def _body(request: web.Request) -> dict[str, Any]:
    body = await read_json(request)
    return {} if body is None else expect_object(body, "request body")


# -- bootstrap ----------------------------------------------------------------------------


@enabled_only
@open_route("the one-time bootstrap needs no token, as in Consul")
async def bootstrap(request: web.Request) -> web.Response:
    server = server_of(request)
    store = server.acl.store
    done = store.bootstrap_index
    if done:
        reset = server.config.data_dir / RESET_FILE
        try:
            wanted = reset.read_text().strip() if reset.exists() else ""
        except OSError:
            wanted = ""
        if wanted == str(done):
            store.reset_bootstrap()
            reset.unlink(missing_ok=True)
            log.info("catalog: ACL bootstrap reset with %s", reset)
        else:
            raise APIError(
                403, f"Permission denied: ACL bootstrap no longer allowed (reset index: {done})"
            )
    body = await _body(request)
    secret = text(body, "BootstrapSecret") or str(uuid.uuid4())
    if store.token_by_secret(secret) is not None:
        raise APIError.bad_request("Invalid Token: SecretID is already in use")
    token = new_token(secret, BOOTSTRAP_DESCRIPTION, management=True)
    store.put_token(token, bootstrap=True)
    return answer(request, {"ID": token.secret_id, **token.to_json()})


# -- policies -------------------------------------------------------------------------------


def _policy_from(request: web.Request, body: dict[str, Any], policy_id: str) -> ACLPolicy:
    store = resolver_of(request).store
    name = text(body, "Name")
    check_name("Policy", name)
    rules = text(body, "Rules")
    try:
        parse_rules(rules, "Rules")
    except RulesError as exc:
        raise APIError.bad_request(str(exc)) from None
    same = store.policy_by_name(name)
    if same is not None and same.id != policy_id:
        raise APIError.bad_request(f'Invalid Policy: A Policy with Name "{name}" already exists')
    old = store.policies.get(policy_id)
    if old is not None and old.id == GLOBAL_MANAGEMENT_ID:
        if rules != old.rules:
            raise APIError.bad_request(
                "Changing the Rules for the builtin global-management policy is not permitted"
            )
        if get_field(body, "Datacenters"):
            raise APIError.bad_request(
                "Changing the Datacenters of the builtin global-management policy is not permitted"
            )
    return ACLPolicy(
        id=policy_id,
        name=name,
        description=text(body, "Description"),
        rules=rules,
        datacenters=strings(body, "Datacenters"),
    )


@enabled_only
@requires("acl", "write")
async def policy_create(request: web.Request) -> web.Response:
    body = await _body(request)
    if text(body, "ID"):
        raise APIError.bad_request("Cannot specify an ID when creating a policy")
    policy = _policy_from(request, body, new_id())
    stored = resolver_of(request).store.put_policy(policy)
    return answer(request, stored.to_json())


@enabled_only
@requires("acl", "read")
async def policy_read(request: web.Request) -> web.Response:
    store = resolver_of(request).store
    policy = known(store.policies.get(request.match_info["id"]))
    return answer(request, policy.to_json(), index=store.index)


@enabled_only
@requires("acl", "read")
async def policy_read_by_name(request: web.Request) -> web.Response:
    store = resolver_of(request).store
    policy = known(store.policy_by_name(request.match_info["name"]))
    return answer(request, policy.to_json(), index=store.index)


@enabled_only
@requires("acl", "write")
async def policy_update(request: web.Request) -> web.Response:
    store = resolver_of(request).store
    pid = request.match_info["id"]
    body = await _body(request)
    update_target(
        store.policies,
        pid,
        body,
        "ID",
        mismatch="Policy ID in URL and payload do not match",
        missing=f"Cannot find policy {pid}",
    )
    stored = store.put_policy(_policy_from(request, body, pid))
    return answer(request, stored.to_json())


@enabled_only
@requires("acl", "write")
async def policy_delete(request: web.Request) -> web.Response:
    pid = request.match_info["id"]
    if pid == GLOBAL_MANAGEMENT_ID:
        raise APIError.bad_request(
            "Delete operation not permitted on the builtin global-management policy"
        )
    resolver_of(request).store.delete_policy(pid)
    return answer(request, True)


@enabled_only
@requires("acl", "read")
async def policy_list(request: web.Request) -> web.Response:
    store = resolver_of(request).store
    rows = [p.to_json(stub=True) for p in sorted(store.policies.values(), key=lambda p: p.id)]
    return answer(request, rows, index=store.index)


# -- templated policies ------------------------------------------------------------------


@enabled_only
@requires("acl", "read")
async def templated_list(request: web.Request) -> web.Response:
    return answer(request, {name: t.to_json() for name, t in TEMPLATED_POLICIES.items()})


def _template(request: web.Request) -> Any:
    name = request.match_info["name"]
    template = TEMPLATED_POLICIES.get(name)
    if template is None:
        raise APIError.not_found(f"Invalid templated policy Name: {name}")
    return template


@enabled_only
@requires("acl", "read")
async def templated_read(request: web.Request) -> web.Response:
    return answer(request, _template(request).to_json())


@enabled_only
@requires("acl", "read")
async def templated_preview(request: web.Request) -> web.Response:
    template = _template(request)
    body = await _body(request)
    variables = get_field(body, "TemplateVariables", body)
    if not isinstance(variables, dict):
        raise APIError.bad_request("TemplateVariables: expected an object")
    try:
        rules = template.render(variables)
    except ValueError as exc:
        raise APIError.bad_request(str(exc)) from None
    suffix = (variables.get("Name") or variables.get("name") or "") if template.needs_name else ""
    policy = ACLPolicy(
        id="",
        name=f"synthetic-policy-{template.name.split('/')[-1]}" + (f"-{suffix}" if suffix else ""),
        description=f"synthetic policy generated from templated policy: {template.name}",
        rules=rules,
    )
    return answer(request, policy.to_json())


# -- the agent's tokens ---------------------------------------------------------------------


@enabled_only
@requires("agent", "write", node_name)
async def agent_token(request: web.Request) -> web.Response:
    tokens = resolver_of(request).tokens
    name = request.match_info["type"]
    kind = tokens.kind(name)
    if kind is None:
        raise APIError.not_found(f'Token "{name}" is unknown')
    body = await _body(request)
    tokens.set(kind, text(body, "Token"))
    log.info("catalog: agent token %s updated", kind)
    return web.Response(status=200)


# This resource's endpoints; `yurt.catalog.app` installs every table.
ROUTES = (
    routes.put("/v1/acl/bootstrap", bootstrap),
    routes.put("/v1/acl/policy", policy_create),
    routes.get("/v1/acl/policy/name/{name}", policy_read_by_name),
    routes.get("/v1/acl/policy/{id}", policy_read),
    routes.put("/v1/acl/policy/{id}", policy_update),
    routes.delete("/v1/acl/policy/{id}", policy_delete),
    routes.get("/v1/acl/policies", policy_list),
    routes.get("/v1/acl/templated-policies", templated_list),
    routes.get("/v1/acl/templated-policy/name/{name:.+}", templated_read),
    routes.post("/v1/acl/templated-policy/preview/{name:.+}", templated_preview),
    routes.put("/v1/agent/token/{type}", agent_token),
)

"""ACLs at the HTTP edge: the request's token, its authorizer, 403s and list filtering.

Every handler of the catalog's API carries an `acl_rule` mark saying how it is guarded:
`requires(resource, level)` checks before the handler runs; `checked(...)` says the handler
checks names it only knows from the request body or the store; `filtered(...)` says a
read drops what the token may not see (and answers `X-Consul-Results-Filtered-By-ACLs:
true` when it dropped anything); `open_route(why)` is left open as Consul leaves it.
`tests/catalog/test_acl_routes.py` walks the router and refuses a route without a mark.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from aiohttp import web

from yurt.api.errors import APIError
from yurt.catalog.acl_authorizer import MANAGE_ALL, TokenAuthorizer, token_authorizer
from yurt.catalog.acl_model import ACLToken, Grants
from yurt.catalog.acl_rules import Policy, RulesError, parse_rules
from yurt.catalog.acl_templates import (
    ANONYMOUS_ACCESSOR,
    TEMPLATED_POLICIES,
    node_identity_rules,
    service_identity_rules,
)

if TYPE_CHECKING:
    from yurt.catalog.acl_agent_tokens import AgentTokens
    from yurt.catalog.acl_store import ACLStore
    from yurt.catalog.config import ConsulACLConfig

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
H = TypeVar("H", bound=Handler)

FILTERED_HEADER = "X-Consul-Results-Filtered-By-ACLs"
ACL_NOT_FOUND = "ACL not found"
ACL_DISABLED = "ACL support disabled"

_AUTHZ_KEY: web.RequestKey[TokenAuthorizer] = web.RequestKey(
    "yurt.catalog.acl.authz", TokenAuthorizer
)


class ACLResolver:
    """Secrets -> authorizers, cached until the ACL tables change."""

    def __init__(
        self,
        config: ConsulACLConfig,
        store: ACLStore,
        tokens: AgentTokens,
        node_name: str,
    ) -> None:
        self.config = config
        self.store = store
        self.tokens = tokens
        self.node_name = node_name
        self._seen = -1
        self._cache: dict[str, TokenAuthorizer] = {}
        self._parsed: dict[tuple[str, str], Policy] = {}

    def token_of(self, secret: str) -> ACLToken:
        """The token for a secret (empty: the agent's default token, else anonymous);
        403 "ACL not found" for one that does not exist or has expired."""
        if not secret:
            secret = self.tokens.get("default")
        if not secret:
            token = self.store.tokens.get(ANONYMOUS_ACCESSOR)
        else:
            token = self.store.token_by_secret(secret)
        if token is None or token.expired():
            raise APIError(403, ACL_NOT_FOUND)
        return token

    def authorizer(self, secret: str) -> TokenAuthorizer:
        if not self.config.enabled:
            return MANAGE_ALL
        recovery = self.tokens.get("agent_recovery")
        if secret and recovery and hmac.compare_digest(secret.encode(), recovery.encode()):
            return self._recovery()
        if self._seen != self.store.index:
            self._cache.clear()
            self._seen = self.store.index
        token = self.token_of(secret)
        cached = self._cache.get(token.accessor_id)
        if cached is None:
            cached = token_authorizer(
                token.accessor_id, self.policies_of(token), self.config.default_policy
            )
            self._cache[token.accessor_id] = cached
        return cached

    def _recovery(self) -> TokenAuthorizer:
        # Consul's agent recovery token: the local agent and reading nodes, nothing else
        rules = (
            f'agent "{self.node_name}" {{ policy = "write" }}\nnode_prefix "" {{ policy = "read" }}'
        )
        return token_authorizer("agent-recovery", [parse_rules(rules)], "deny")

    def policies_of(self, token: ACLToken) -> list[Policy]:
        out = self._grants(token.grants)
        for link in token.roles:
            role = self.store.roles.get(link.id)
            if role is not None:
                out.extend(self._grants(role.grants))
        return out

    def _grants(self, grants: Grants) -> list[Policy]:
        out: list[Policy] = []
        for link in grants.policies:
            policy = self.store.policies.get(link.id)
            if policy is not None:
                out.append(self._parse(policy.id + "@" + str(policy.modify_index), policy.rules))
        for ident in grants.service_identities:
            out.append(
                self._parse("svc:" + ident.service_name, service_identity_rules(ident.service_name))
            )
        for node in grants.node_identities:
            out.append(self._parse("node:" + node.node_name, node_identity_rules(node.node_name)))
        for ref in grants.templated_policies:
            template = TEMPLATED_POLICIES.get(ref.template_name)
            if template is None:
                continue
            try:
                text = template.render(ref.variables)
            except ValueError:
                continue
            out.append(self._parse("tpl:" + ref.template_name + repr(ref.variables), text))
        return out

    def _parse(self, key: str, rules: str) -> Policy:
        cached = self._parsed.get((key, rules))
        if cached is None:
            try:
                cached = parse_rules(rules)
            except RulesError:
                cached = Policy()  # stored rules were checked when written
            if len(self._parsed) > 4096:
                self._parsed.clear()
            self._parsed[(key, rules)] = cached
        return cached


def request_secret(request: web.Request) -> str:
    """The request's token, where Consul looks for it: `?token=`, `X-Consul-Token`, then
    `Authorization: Bearer`."""
    token = request.query.get("token", "")
    if token:
        return token
    token = request.headers.get("X-Consul-Token", "")
    if token:
        return token
    auth = request.headers.get("Authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    return ""


def resolver_of(request: web.Request) -> ACLResolver:
    from yurt.catalog.api_common import server_of

    return server_of(request).acl


def authz(request: web.Request) -> TokenAuthorizer:
    """The request's authorizer, resolved once per request."""
    if _AUTHZ_KEY in request:
        return request[_AUTHZ_KEY]
    resolved = resolver_of(request).authorizer(request_secret(request))
    request[_AUTHZ_KEY] = resolved
    return resolved


T = TypeVar("T")


def known(obj: T | None) -> T:
    """`obj`, or Consul's 403 "ACL not found" for a policy, role or token that is not there."""
    if obj is None:
        raise APIError(403, ACL_NOT_FOUND)
    return obj


def denied(who: TokenAuthorizer, resource: str, level: str, name: str | None) -> APIError:
    """Consul 1.17's refusal text."""
    text = (
        f"Permission denied: token with AccessorID '{who.accessor}' lacks permission "
        f"'{resource}:{level}'"
    )
    if name is not None:
        text += f' on "{name}"'
    return APIError(403, text)


def require(request: web.Request, resource: str, level: str, name: str | None = None) -> None:
    who = authz(request)
    if not who.allowed(resource, level, name or ""):
        raise denied(who, resource, level, name)


def require_key_write_prefix(request: web.Request, prefix: str) -> None:
    who = authz(request)
    if not who.key_write_prefix(prefix):
        raise denied(who, "key", "write", prefix)


# -- filtering -------------------------------------------------------------------------------


@dataclass
class View:
    """What one read may show: `can(...)` answers, and remembers whether it hid anything."""

    who: TokenAuthorizer
    enabled: bool
    hid: bool = False

    def can(self, resource: str, level: str, name: str) -> bool:
        if not self.enabled:
            return True
        ok = self.who.allowed(resource, level, name)
        if not ok:
            self.hid = True
        return ok

    def keep(self, items: Iterable[Any], test: Callable[[Any], bool]) -> list[Any]:
        items = list(items)
        if not self.enabled:
            return items
        return [item for item in items if test(item)]


def view(request: web.Request) -> View:
    resolver = resolver_of(request)
    return View(authz(request), resolver.config.enabled)


R = TypeVar("R", bound=web.StreamResponse)


def mark_filtered(response: R, v: View) -> R:
    if v.hid:
        response.headers[FILTERED_HEADER] = "true"
    return response


def acl_enabled(request: web.Request) -> bool:
    return resolver_of(request).config.enabled


# -- the marks ---------------------------------------------------------------------------------


def _mark(handler: H, rule: str) -> H:
    handler.acl_rule = rule  # type: ignore[attr-defined]
    return handler


def requires(
    resource: str, level: str, name: Callable[[web.Request], str] | None = None
) -> Callable[[H], H]:
    """Check `resource:level` (on the name that `name` takes from the request) first."""

    def wrap(handler: H) -> H:
        async def guarded(request: web.Request) -> web.StreamResponse:
            require(request, resource, level, name(request) if name else None)
            return await handler(request)

        guarded.__name__ = handler.__name__
        guarded.__doc__ = handler.__doc__
        return _mark(guarded, f"requires {resource}:{level}")  # type: ignore[return-value]

    return wrap


def checked(rule: str) -> Callable[[H], H]:
    """The handler checks `rule` itself, on names it learns from the body or the store."""
    return lambda handler: _mark(handler, f"checked {rule}")


def filtered(rule: str) -> Callable[[H], H]:
    """The handler drops what the token may not see."""
    return lambda handler: _mark(handler, f"filtered {rule}")


def open_route(why: str) -> Callable[[H], H]:
    """Left open, as Consul leaves it: `why` says so."""
    return lambda handler: _mark(handler, f"open: {why}")


def node_name(request: web.Request) -> str:
    from yurt.catalog.api_common import server_of

    return server_of(request).node_name

"""Decisions on Consul's ACL rules: may this token read key "a/b", write service "web", ...

One `PolicyAuthorizer` merges every policy a token carries (its own, its roles', its
identities' and templated policies' rules), as Consul's policy merging does: when two rules
name the same target, deny beats write beats list beats read. A lookup takes the exact rule
for a name if there is one, else the longest prefix rule; no rule at all is `DEFAULT`, and
the answer then comes from the default policy (`allow` or `deny`), as Consul's chained
authorizer falls through to its default authorizer.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from yurt.catalog.acl_rules import DENY, LIST, NAMED, READ, SINGLE, WRITE, Policy, stronger

ALLOW = "allow"
DEFAULT = "default"
# `DENY` ("deny") is shared with the rules' level of that name.

# Which resource an unset single level falls back to, as Consul's authorizer does.
_SINGLE_FALLBACK = {"mesh": "operator", "peering": "mesh"}


def enforce(level: str, need: str) -> str:
    """What a rule of `level` says to a request needing `need` (read, list or write)."""
    if level == WRITE:
        return ALLOW
    if level == LIST:
        return ALLOW if need in (LIST, READ) else DENY
    if level == READ:
        return ALLOW if need == READ else DENY
    if level == DENY:
        return DENY
    return DEFAULT


class Authorizer(Protocol):
    def decide(self, resource: str, need: str, name: str = "") -> str: ...

    def decide_key_write_prefix(self, prefix: str) -> str: ...


@dataclass
class _Target:
    policy: str
    intentions: str


class PolicyAuthorizer:
    """The merged rules of one token; answers ALLOW, DENY or DEFAULT."""

    def __init__(self, policies: Iterable[Policy]) -> None:
        self._exact: dict[str, dict[str, _Target]] = {r: {} for r in NAMED}
        self._prefix: dict[str, dict[str, _Target]] = {r: {} for r in NAMED}
        self._levels: dict[str, str] = {}
        for policy in policies:
            for name, level in policy.levels.items():
                self._levels[name] = stronger(self._levels.get(name, ""), level)
            for rule in policy.rules:
                table = (self._prefix if rule.prefix else self._exact)[rule.resource]
                intentions = rule.intentions or _implied_intentions(rule.policy)
                old = table.get(rule.segment)
                if old is None:
                    table[rule.segment] = _Target(rule.policy, intentions)
                else:
                    old.policy = stronger(old.policy, rule.policy)
                    old.intentions = stronger(old.intentions, intentions)

    def _lookup(self, resource: str, name: str) -> _Target | None:
        exact = self._exact[resource].get(name)
        if exact is not None:
            return exact
        best: _Target | None = None
        best_len = -1
        for segment, target in self._prefix[resource].items():
            if len(segment) > best_len and name.startswith(segment):
                best, best_len = target, len(segment)
        return best

    def decide(self, resource: str, need: str, name: str = "") -> str:
        if resource in SINGLE:
            level = self._levels.get(resource, "")
            fallback = _SINGLE_FALLBACK.get(resource)
            if not level and fallback:
                return self.decide(fallback, need)
            return enforce(level, need)
        if resource == "intention":
            target = self._lookup("service", name)
            return enforce(target.intentions, need) if target else DEFAULT
        target = self._lookup(resource, name)
        return enforce(target.policy, need) if target else DEFAULT

    def decide_key_write_prefix(self, prefix: str) -> str:
        """Deleting a whole prefix: every rule at or under it must grant write, and the
        rule that covers the prefix itself decides (Consul's KeyWritePrefix)."""
        covering = DEFAULT
        best_len = -1
        for segment, target in self._prefix["key"].items():
            if prefix.startswith(segment) and len(segment) > best_len:
                best_len = len(segment)
                covering = ALLOW if target.policy == WRITE else DENY
        if covering == DENY:
            return DENY
        for table in (self._prefix["key"], self._exact["key"]):
            for segment, target in table.items():
                if segment.startswith(prefix) and target.policy != WRITE:
                    return DENY
        return covering


def _implied_intentions(policy: str) -> str:
    # a service rule without `intentions` reads them when it can read the service
    return READ if policy in (READ, WRITE) else DENY


class StaticAuthorizer:
    """The default policy: `allow` lets everything through but ACL management (which only
    a rule may grant, as Consul's allow-all authorizer does); `deny` refuses all;
    `manage` (ACLs off) allows everything."""

    def __init__(self, mode: str) -> None:
        self.mode = mode

    def decide(self, resource: str, need: str, name: str = "") -> str:
        if self.mode == "manage":
            return ALLOW
        if self.mode == ALLOW:
            return DENY if resource == "acl" else ALLOW
        return DENY

    def decide_key_write_prefix(self, prefix: str) -> str:
        return self.decide("key", WRITE, prefix)


class TokenAuthorizer:
    """A token's rules, falling back to the default policy: what the endpoints ask."""

    def __init__(self, accessor: str, rules: Authorizer, default: Authorizer) -> None:
        self.accessor = accessor
        self._chain = (rules, default)

    def allowed(self, resource: str, need: str, name: str = "") -> bool:
        for authz in self._chain:
            decision = authz.decide(resource, need, name)
            if decision != DEFAULT:
                return decision == ALLOW
        return False

    def key_write_prefix(self, prefix: str) -> bool:
        for authz in self._chain:
            decision = authz.decide_key_write_prefix(prefix)
            if decision != DEFAULT:
                return decision == ALLOW
        return False

    # Named forms, as Consul's Authorizer interface spells them.
    def key_read(self, key: str) -> bool:
        return self.allowed("key", READ, key)

    def key_list(self, key: str) -> bool:
        return self.allowed("key", LIST, key)

    def key_write(self, key: str) -> bool:
        return self.allowed("key", WRITE, key)

    def service_read(self, name: str) -> bool:
        return self.allowed("service", READ, name)

    def service_write(self, name: str) -> bool:
        return self.allowed("service", WRITE, name)

    def intention_read(self, name: str) -> bool:
        return self.allowed("intention", READ, name)

    def intention_write(self, name: str) -> bool:
        return self.allowed("intention", WRITE, name)

    def node_read(self, name: str) -> bool:
        return self.allowed("node", READ, name)

    def node_write(self, name: str) -> bool:
        return self.allowed("node", WRITE, name)

    def agent_read(self, name: str) -> bool:
        return self.allowed("agent", READ, name)

    def agent_write(self, name: str) -> bool:
        return self.allowed("agent", WRITE, name)

    def session_read(self, node: str) -> bool:
        return self.allowed("session", READ, node)

    def session_write(self, node: str) -> bool:
        return self.allowed("session", WRITE, node)

    def event_read(self, name: str) -> bool:
        return self.allowed("event", READ, name)

    def event_write(self, name: str) -> bool:
        return self.allowed("event", WRITE, name)

    def query_read(self, name: str) -> bool:
        return self.allowed("query", READ, name)

    def query_write(self, name: str) -> bool:
        return self.allowed("query", WRITE, name)

    def operator_read(self) -> bool:
        return self.allowed("operator", READ)

    def operator_write(self) -> bool:
        return self.allowed("operator", WRITE)

    def acl_read(self) -> bool:
        return self.allowed("acl", READ)

    def acl_write(self) -> bool:
        return self.allowed("acl", WRITE)

    def keyring_read(self) -> bool:
        return self.allowed("keyring", READ)

    def keyring_write(self) -> bool:
        return self.allowed("keyring", WRITE)

    def mesh_read(self) -> bool:
        return self.allowed("mesh", READ)

    def mesh_write(self) -> bool:
        return self.allowed("mesh", WRITE)


def token_authorizer(
    accessor: str, policies: Iterable[Policy], default_policy: str
) -> TokenAuthorizer:
    return TokenAuthorizer(accessor, PolicyAuthorizer(policies), StaticAuthorizer(default_policy))


MANAGE_ALL = TokenAuthorizer("", StaticAuthorizer("manage"), StaticAuthorizer("manage"))

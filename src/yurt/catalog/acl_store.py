"""The ACL tables of the catalog's store: policies, tokens, roles and the bootstrap mark.

They live in the catalog's storage backend, in tables of their own, and take their indexes
from its one counter, so a change is durable once answered and bumps the index that blocking
reads of `/v1/acl/*` wait on (topic `acl`). Reads come from an in-memory copy, rebuilt from
the backend at start and after a failed write.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from yurt.catalog.acl_model import ACLPolicy, ACLRole, ACLToken, Link, now_rfc3339
from yurt.catalog.acl_templates import (
    ANONYMOUS_ACCESSOR,
    ANONYMOUS_SECRET,
    GLOBAL_MANAGEMENT_DESCRIPTION,
    GLOBAL_MANAGEMENT_ID,
    GLOBAL_MANAGEMENT_NAME,
    GLOBAL_MANAGEMENT_RULES,
)

if TYPE_CHECKING:
    from yurt.catalog.store import CatalogStore
    from yurt.storage.interface import Batch

# the backend's tables, by ID, AccessorID, ID and name
POLICIES = "acl_policies"
TOKENS = "acl_tokens"
ROLES = "acl_roles"
META = "acl_meta"

TOPIC = "acl"


def new_id() -> str:
    return str(uuid.uuid4())


def new_token(secret: str, description: str, *, management: bool = False) -> ACLToken:
    """A token made now with a new accessor; `management`: linked to global-management (the
    bootstrap and the configured initial management token)."""
    token = ACLToken(
        accessor_id=new_id(), secret_id=secret, description=description, create_time=now_rfc3339()
    )
    if management:
        token.grants.policies.append(Link(GLOBAL_MANAGEMENT_ID, GLOBAL_MANAGEMENT_NAME))
    return token


class ACLStore:
    def __init__(self, store: CatalogStore) -> None:
        self.store = store
        self._load()
        store.reload_hooks.append(self._load)

    def _load(self) -> None:
        backend = self.store.backend
        self.policies: dict[str, ACLPolicy] = {}
        self.tokens: dict[str, ACLToken] = {}
        self.roles: dict[str, ACLRole] = {}
        self.meta: dict[str, str] = {}
        for _, data in backend.load(POLICIES):
            policy = ACLPolicy.from_record(data)
            self.policies[policy.id] = policy
        for _, data in backend.load(TOKENS):
            token = ACLToken.from_record(data)
            self.tokens[token.accessor_id] = token
        for _, data in backend.load(ROLES):
            role = ACLRole.from_record(data)
            self.roles[role.id] = role
        for key, value in backend.load(META):
            self.meta[key] = str(value)
        self._by_secret = {t.secret_id: t.accessor_id for t in self.tokens.values()}

    @property
    def index(self) -> int:
        return self.store.topic_index(TOPIC)

    # -- built-ins --------------------------------------------------------------------------

    def ensure_builtins(self) -> None:
        """The global-management policy and the anonymous token, as Consul's leader makes
        them when ACLs are first turned on."""
        if GLOBAL_MANAGEMENT_ID not in self.policies:
            self.put_policy(
                ACLPolicy(
                    id=GLOBAL_MANAGEMENT_ID,
                    name=GLOBAL_MANAGEMENT_NAME,
                    description=GLOBAL_MANAGEMENT_DESCRIPTION,
                    rules=GLOBAL_MANAGEMENT_RULES,
                )
            )
        if ANONYMOUS_ACCESSOR not in self.tokens:
            self.put_token(
                ACLToken(
                    accessor_id=ANONYMOUS_ACCESSOR,
                    secret_id=ANONYMOUS_SECRET,
                    description="Anonymous Token",
                    create_time=now_rfc3339(),
                )
            )

    # -- lookups ------------------------------------------------------------------------------

    def token_by_secret(self, secret: str) -> ACLToken | None:
        accessor = self._by_secret.get(secret)
        return self.tokens.get(accessor) if accessor else None

    def policy_by_name(self, name: str) -> ACLPolicy | None:
        return next((p for p in self.policies.values() if p.name == name), None)

    def role_by_name(self, name: str) -> ACLRole | None:
        return next((r for r in self.roles.values() if r.name == name), None)

    # -- writes -------------------------------------------------------------------------------

    def put_policy(self, policy: ACLPolicy) -> ACLPolicy:
        old = self.policies.get(policy.id)
        with self.store._write() as w:
            policy.create_index = old.create_index if old else w.index
            policy.modify_index = w.index
            w.batch.put(POLICIES, policy.id, policy.to_record())
            self.policies[policy.id] = policy
            if old is not None and old.name != policy.name:
                self._rename_links(w.batch, policy.id, policy.name)
            w.touch(TOPIC)
        return policy

    def _rename_links(self, batch: Batch, policy_id: str, name: str) -> None:
        for token in self.tokens.values():
            if any(link.id == policy_id for link in token.grants.policies):
                for link in token.grants.policies:
                    if link.id == policy_id:
                        link.name = name
                self._save_token(batch, token)
        for role in self.roles.values():
            if any(link.id == policy_id for link in role.grants.policies):
                for link in role.grants.policies:
                    if link.id == policy_id:
                        link.name = name
                self._save_role(batch, role)

    def delete_policy(self, policy_id: str) -> bool:
        if policy_id not in self.policies:
            return False
        with self.store._write() as w:
            del self.policies[policy_id]
            w.batch.delete(POLICIES, policy_id)
            # links to a deleted policy go away, as Consul drops dangling links
            for token in self.tokens.values():
                kept = [p for p in token.grants.policies if p.id != policy_id]
                if len(kept) != len(token.grants.policies):
                    token.grants.policies = kept
                    self._save_token(w.batch, token)
            for role in self.roles.values():
                kept = [p for p in role.grants.policies if p.id != policy_id]
                if len(kept) != len(role.grants.policies):
                    role.grants.policies = kept
                    self._save_role(w.batch, role)
            w.touch(TOPIC)
        return True

    @staticmethod
    def _save_token(batch: Batch, token: ACLToken) -> None:
        batch.put(TOKENS, token.accessor_id, token.to_record())

    @staticmethod
    def _save_role(batch: Batch, role: ACLRole) -> None:
        batch.put(ROLES, role.id, role.to_record())

    def put_token(self, token: ACLToken, *, bootstrap: bool = False) -> ACLToken:
        old = self.tokens.get(token.accessor_id)
        with self.store._write() as w:
            token.create_index = old.create_index if old else w.index
            token.modify_index = w.index
            self._save_token(w.batch, token)
            if old is not None:
                self._by_secret.pop(old.secret_id, None)
            self.tokens[token.accessor_id] = token
            self._by_secret[token.secret_id] = token.accessor_id
            if bootstrap:
                w.batch.put(META, "bootstrap_index", str(w.index))
                self.meta["bootstrap_index"] = str(w.index)
            w.touch(TOPIC)
        return token

    def delete_token(self, accessor: str) -> bool:
        token = self.tokens.get(accessor)
        if token is None:
            return False
        with self.store._write() as w:
            del self.tokens[accessor]
            self._by_secret.pop(token.secret_id, None)
            w.batch.delete(TOKENS, accessor)
            w.touch(TOPIC)
        return True

    def put_role(self, role: ACLRole) -> ACLRole:
        old = self.roles.get(role.id)
        with self.store._write() as w:
            role.create_index = old.create_index if old else w.index
            role.modify_index = w.index
            self._save_role(w.batch, role)
            self.roles[role.id] = role
            if old is not None and old.name != role.name:
                for token in self.tokens.values():
                    for link in token.roles:
                        if link.id == role.id:
                            link.name = role.name
                            self._save_token(w.batch, token)
            w.touch(TOPIC)
        return role

    def delete_role(self, role_id: str) -> bool:
        if role_id not in self.roles:
            return False
        with self.store._write() as w:
            del self.roles[role_id]
            w.batch.delete(ROLES, role_id)
            for token in self.tokens.values():
                kept = [r for r in token.roles if r.id != role_id]
                if len(kept) != len(token.roles):
                    token.roles = kept
                    self._save_token(w.batch, token)
            w.touch(TOPIC)
        return True

    # -- bootstrap ----------------------------------------------------------------------------

    @property
    def bootstrap_index(self) -> int:
        """The index of the bootstrap, 0 while it has not been done."""
        return int(self.meta.get("bootstrap_index", "0"))

    def reset_bootstrap(self) -> None:
        with self.store._write() as w:
            w.batch.delete(META, "bootstrap_index")
            self.meta.pop("bootstrap_index", None)
            w.touch(TOPIC)

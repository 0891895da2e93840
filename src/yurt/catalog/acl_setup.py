"""What the catalog does for ACLs at start: the built-in policy and anonymous token, the
configured initial management token, and the internal components' agent token."""

from __future__ import annotations

import logging
import os
import uuid
from pathlib import Path

from yurt.catalog.acl_agent_tokens import AgentTokens
from yurt.catalog.acl_http import ACLResolver
from yurt.catalog.acl_model import TemplatedPolicyRef
from yurt.catalog.acl_store import ACLStore, new_token
from yurt.catalog.config import CatalogConfig
from yurt.catalog.store import CatalogStore

log = logging.getLogger(__name__)

INITIAL_MANAGEMENT_DESCRIPTION = "Initial Management Token"
AGENT_TOKEN_DESCRIPTION = "yurt agent token (scheduler, client and router)"
# What the internal components do in the catalog: register their services, read nodes,
# services, health and KV (templates, the router's manual routes), read the agent.
AGENT_TOKEN_TEMPLATE = "builtin/nomad-client"


def start_acl(cfg: CatalogConfig, store: CatalogStore) -> ACLResolver:
    acl_store = ACLStore(store)
    tokens = AgentTokens(cfg.acl, None if cfg.dev else cfg.data_dir)
    if cfg.acl.enabled:
        if cfg.acl.default_policy not in ("allow", "deny"):
            raise ValueError(
                f'acl.default_policy must be "allow" or "deny", got "{cfg.acl.default_policy}"'
            )
        acl_store.ensure_builtins()
        _initial_management(acl_store, cfg.acl.initial_management)
        _agent_token(acl_store, tokens.get("agent"))
    return ACLResolver(cfg.acl, acl_store, tokens, cfg.node_name)


def _initial_management(acl_store: ACLStore, secret: str) -> None:
    """Consul makes the configured initial management token at start; when the ACL system
    was never bootstrapped, that counts as its bootstrap."""
    if not secret or acl_store.token_by_secret(secret) is not None:
        return
    token = new_token(secret, INITIAL_MANAGEMENT_DESCRIPTION, management=True)
    acl_store.put_token(token, bootstrap=acl_store.bootstrap_index == 0)
    log.info("catalog: created the initial management token %s", token.accessor_id)


def _agent_token(acl_store: ACLStore, secret: str) -> None:
    """yurt's own components talk to the catalog with `tokens.agent`: made here (with the
    rights of Consul's `builtin/nomad-client` templated policy) when it is not known yet,
    so that `yurt up -acl-enabled` works before the user bootstraps."""
    if not secret or acl_store.token_by_secret(secret) is not None:
        return
    token = new_token(secret, AGENT_TOKEN_DESCRIPTION)
    token.grants.templated_policies.append(TemplatedPolicyRef(AGENT_TOKEN_TEMPLATE))
    acl_store.put_token(token)
    log.info("catalog: created the agent token %s (%s)", token.accessor_id, AGENT_TOKEN_TEMPLATE)


AGENT_TOKEN_FILE = "acl-agent-token"


def agent_token_secret(data_dir: Path) -> str:
    """The internal components' secret for `yurt up -acl-enabled`: made once, kept in
    `<catalog data dir>/acl-agent-token` (mode 0600) so that restarts keep it."""
    path = data_dir / AGENT_TOKEN_FILE
    if path.exists():
        secret = path.read_text().strip()
        if secret:
            return secret
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = str(uuid.uuid4())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secret + "\n")
    return secret

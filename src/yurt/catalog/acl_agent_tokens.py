"""The agent's own tokens (`acl { tokens { default, agent, agent_recovery, ... } }`), set from
the config and by `PUT /v1/agent/token/:type`; kept in `<data-dir>/acl-tokens.json` only with
`enable_token_persistence`, as Consul keeps them, and then preferred over the config's."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from yurt.catalog.config import ConsulACLConfig

log = logging.getLogger(__name__)

# The types of `/v1/agent/token/:type`; older names map to the current ones.
TOKEN_TYPES = (
    "default",
    "agent",
    "agent_recovery",
    "replication",
    "config_file_service_registration",
    "dns",
)
ALIASES = {
    "acl_token": "default",
    "acl_agent_token": "agent",
    "agent_master": "agent_recovery",
    "acl_agent_master_token": "agent_recovery",
    "acl_replication_token": "replication",
}
FILE_NAME = "acl-tokens.json"


class AgentTokens:
    def __init__(self, config: ConsulACLConfig, data_dir: Path | None) -> None:
        self._tokens = {t: "" for t in TOKEN_TYPES}
        self._tokens["default"] = config.default
        self._tokens["agent"] = config.agent
        self._tokens["agent_recovery"] = config.agent_recovery
        self._persist = config.enable_token_persistence and data_dir is not None
        self._path = data_dir / FILE_NAME if data_dir is not None else None
        if self._persist and self._path is not None and self._path.exists():
            try:
                saved = json.loads(self._path.read_text())
            except (OSError, ValueError) as exc:
                log.warning("%s: cannot read the persisted agent tokens: %s", self._path, exc)
                saved = {}
            for key, value in saved.items() if isinstance(saved, dict) else ():
                kind = ALIASES.get(key, key)
                if kind in self._tokens and isinstance(value, str) and value:
                    self._tokens[kind] = value

    @staticmethod
    def kind(name: str) -> str | None:
        kind = ALIASES.get(name, name)
        return kind if kind in TOKEN_TYPES else None

    def get(self, kind: str) -> str:
        return self._tokens[kind]

    def set(self, kind: str, secret: str) -> None:
        self._tokens[kind] = secret
        if self._persist and self._path is not None:
            data = {k: v for k, v in self._tokens.items() if v}
            tmp = self._path.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                json.dump(data, f)
            os.replace(tmp, self._path)

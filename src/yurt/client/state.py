"""The client's durable state: its node identity and, per allocation, what it needs to
re-attach to running tasks after a restart (even after kill -9). One JSON file per alloc,
replaced atomically, so a crash never leaves a half-written file behind."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import uuid
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
Obj = dict[str, Any]


def _write(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w") as f:
        json.dump(data, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class StateStore:
    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir
        self.allocs = data_dir / "client" / "allocs"
        self.allocs.mkdir(parents=True, exist_ok=True)

    def node_identity(self) -> tuple[str, str]:
        """(node ID, secret ID): made once and kept, so a restarted client is the same node."""
        path = self.root / "client" / "node.json"
        try:
            data = json.loads(path.read_text())
            return str(data["ID"]), str(data["SecretID"])
        except (OSError, ValueError, KeyError):
            pass
        node_id, secret = str(uuid.uuid4()), str(uuid.uuid4())
        _write(path, {"ID": node_id, "SecretID": secret})
        return node_id, secret

    def save_alloc(self, alloc_id: str, data: Obj) -> None:
        try:
            _write(self.allocs / f"{alloc_id}.json", data)
        except OSError as exc:
            log.warning("cannot persist allocation %s: %s", alloc_id, exc)

    def delete_alloc(self, alloc_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.allocs / f"{alloc_id}.json").unlink()

    def load_allocs(self) -> list[Obj]:
        out = []
        for path in sorted(self.allocs.glob("*.json")):
            try:
                out.append(json.loads(path.read_text()))
            except (OSError, ValueError) as exc:
                log.warning("ignoring unreadable state %s: %s", path, exc)
        return out

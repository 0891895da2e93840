"""Nomad's allocation directory layout:

<data_dir>/alloc/<alloc_id>/alloc/{data,logs,tmp}     shared by the group's tasks
<data_dir>/alloc/<alloc_id>/<task>/{local,secrets,tmp}
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path


class PathEscapesError(ValueError):
    """A requested path leaves the allocation directory."""


@dataclass(frozen=True)
class TaskDir:
    root: Path

    @property
    def local(self) -> Path:
        return self.root / "local"

    @property
    def secrets(self) -> Path:
        return self.root / "secrets"

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"


@dataclass(frozen=True)
class AllocDir:
    root: Path

    @property
    def shared(self) -> Path:
        return self.root / "alloc"

    @property
    def logs(self) -> Path:
        return self.shared / "logs"

    def task(self, name: str) -> TaskDir:
        return TaskDir(self.root / name)

    def build(self, tasks: list[str]) -> None:
        for sub in ("data", "logs", "tmp"):
            (self.shared / sub).mkdir(parents=True, exist_ok=True)
        for name in tasks:
            td = self.task(name)
            for d in (td.local, td.secrets, td.tmp):
                d.mkdir(parents=True, exist_ok=True)
            td.secrets.chmod(0o700)

    def resolve(self, rel: str) -> Path:
        """`rel` inside the alloc dir, refusing `..` and symlinks that lead out of it."""
        root = self.root.resolve()
        target = (root / rel.lstrip("/")).resolve()
        if target != root and root not in target.parents:
            raise PathEscapesError(f"path {rel!r} escapes the allocation directory")
        return target

    def destroy(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

"""The store interface (`interface.Backend`) and its backends: SQLite for the stateful
components (catalog, scheduler) by default, etcd when the agent config's `store { }` says
so (`config.py`, `etcd.py`), memory for unit tests.

Nothing heavy is imported here (PEP 562): `import yurt.storage.interface` loads no sqlite3.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from yurt.storage.sqlite import Database

__all__ = ["Database"]


def __getattr__(name: str) -> Any:
    if name == "Database":
        from yurt.storage.sqlite import Database

        return Database
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""SQLite storage shared by the stateful components (catalog, scheduler, client)."""

from yurt.storage.sqlite import Database

__all__ = ["Database"]

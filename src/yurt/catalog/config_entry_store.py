"""The config entries table of the catalog's store (service-intentions included: intentions
live there, as in Consul 1.9+).

Entries are kept in the catalog's storage backend, table `config_entries`, keyed
`<kind>/<name>`, and take their indexes from its one counter. Blocking reads wait on
`config:<kind>` (one kind's list or entry) or `config` (anything: discovery chains,
intentions, gateway services, which read several kinds).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from yurt.catalog.config_entries import ConfigEntry, entry_key

if TYPE_CHECKING:
    from yurt.catalog.store import CatalogStore

TABLE = "config_entries"
TOPIC = "config"


def kind_topic(kind: str) -> str:
    return f"{TOPIC}:{kind}"


class ConfigEntryStore:
    def __init__(self, store: CatalogStore) -> None:
        self.store = store
        self._load()
        store.reload_hooks.append(self._load)

    def _load(self) -> None:
        self.entries: dict[str, ConfigEntry] = {}
        for _, data in self.store.backend.load(TABLE):
            entry = ConfigEntry.from_record(data)
            self.entries[entry.key] = entry

    def index(self, kind: str | None = None) -> int:
        if kind is None:
            return self.store.topic_index(TOPIC)
        return self.store.topic_index(kind_topic(kind), TOPIC)

    def get(self, kind: str, name: str) -> ConfigEntry | None:
        return self.entries.get(entry_key(kind, name))

    def of_kind(self, kind: str) -> list[ConfigEntry]:
        return sorted((e for e in self.entries.values() if e.kind == kind), key=lambda e: e.name)

    def all(self) -> list[ConfigEntry]:
        return sorted(self.entries.values(), key=lambda e: (e.kind, e.name))

    def put(self, entry: ConfigEntry, cas: int | None = None) -> bool:
        """Create or replace an entry; False when `cas` says no (0: only if absent)."""
        old = self.entries.get(entry.key)
        if cas is not None and (old.modify_index if old else 0) != cas:
            return False
        with self.store._write() as w:
            entry.create_index = old.create_index if old else w.index
            entry.modify_index = w.index
            w.batch.put(TABLE, entry.key, entry.to_record())
            self.entries[entry.key] = entry
            w.touch(TOPIC, kind_topic(entry.kind))
        return True

    def delete(self, kind: str, name: str, cas: int | None = None) -> bool:
        """Remove an entry; False when `cas` names another index. Removing what is not
        there succeeds, as Consul's does (unless `cas` asked for a present entry)."""
        key = entry_key(kind, name)
        old = self.entries.get(key)
        if cas is not None and (old.modify_index if old else 0) != cas:
            return False
        if old is None:
            return True
        with self.store._write() as w:
            del self.entries[key]
            w.batch.delete(TABLE, key)
            w.touch(TOPIC, kind_topic(kind))
        return True

"""Watches by topic, shared by the stores: each topic's index, persisted in one table of the
backend, and the publication of the topics a commit touched to the `WatchHub`.

A store persists the indexes of the topics a transaction touched inside it (`persist`), and
after the commit moves them in memory (`advance`) and wakes their watchers (`publish`):
nothing is answered or woken for a write that could still be rolled back.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from yurt.storage.interface import Backend, Batch

if TYPE_CHECKING:
    from yurt.api.blocking import WatchHub


class TopicIndex:
    def __init__(self, hub: WatchHub, table: str) -> None:
        self.hub = hub
        self.table = table
        self.indexes: dict[str, int] = {}

    def load(self, backend: Backend) -> None:
        self.indexes = {topic: int(idx) for topic, idx in backend.load(self.table)}

    def get(self, topic: str) -> int | None:
        return self.indexes.get(topic)

    def persist(self, batch: Batch, topics: Iterable[str], index: int) -> None:
        for topic in topics:
            batch.put(self.table, topic, index)

    def advance(self, topics: Iterable[str], index: int) -> None:
        for topic in topics:
            self.indexes[topic] = index

    def publish(self, *topics: str) -> None:
        self.hub.notify(*topics)

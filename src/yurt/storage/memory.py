"""The store interface in memory: for unit tests of the domain code, and the reference the
other backends are held to by the contract tests (tests/storage/test_backend_contract.py).

Values are kept as JSON text, as a durable backend keeps them, so that a caller changing an
object after writing it changes nothing stored, and a value that is not JSON fails here too.
"""

from __future__ import annotations

from collections.abc import Iterator

from yurt.storage import archive
from yurt.storage.batch import PendingWrites, Transaction, decode, encode
from yurt.storage.interface import Backend, Follower, JSONValue, Reclaimed


class MemoryBackend(Backend):
    def __init__(self) -> None:
        self._tables: dict[str, dict[str, str]] = {}
        self._index = 1
        self._batch: PendingWrites | None = None
        self.closed = False

    @property
    def index(self) -> int:
        return self._index

    def load(self, table: str) -> Iterator[tuple[str, JSONValue]]:
        for key, text in list(self._tables.get(table, {}).items()):
            yield key, decode(text)

    def get(self, table: str, key: str) -> JSONValue | None:
        text = self._tables.get(table, {}).get(key)
        return None if text is None else decode(text)

    def transaction(self) -> Transaction:
        return Transaction(self)

    def begin_batch(self) -> PendingWrites:
        if self._batch is not None:
            raise RuntimeError("transactions do not nest")
        self._batch = PendingWrites(self._index)
        return self._batch

    def end_batch(self) -> None:
        self._batch = None

    def commit_batch(self, batch: PendingWrites) -> None:
        for table, key, text in batch.ops:
            rows = self._tables.setdefault(table, {})
            if text is None:
                rows.pop(key, None)
            else:
                rows[key] = text
        if batch.claimed:
            self._index = batch.claimed

    def snapshot(self) -> bytes:
        rows = ((t, k, v) for t, table in self._tables.items() for k, v in table.items())
        return archive.encode(self._index, rows)

    def restore(self, data: bytes) -> None:
        if self._batch is not None:
            raise RuntimeError("restore() inside a transaction")
        got = archive.decode(data)
        tables: dict[str, dict[str, str]] = {}
        for table, key, value in got.rows:
            tables.setdefault(table, {})[key] = encode(value)
        self._tables = tables
        self._index = max(got.index, self._index) + 1

    def reclaim(self) -> Reclaimed:
        if self._batch is not None:
            raise RuntimeError("reclaim() inside a transaction")
        return Reclaimed(pages=0, page_size=0)

    def follow(self, callback: Follower) -> None:
        """No other writer shares this state: nothing to deliver."""

    def close(self) -> None:
        self.closed = True

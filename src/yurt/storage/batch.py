"""The pending writes of one transaction and the context manager that commits them, shared
by the backends: each backend applies the writes its own way when the block ends."""

from __future__ import annotations

import json
from types import TracebackType
from typing import Protocol

from yurt import jsonfast
from yurt.storage.interface import JSONValue

# (table, key, JSON text); None as the text is a delete
Op = tuple[str, str, str | None]

decode = json.loads


def encode(value: JSONValue) -> str:
    """A row's JSON text (`yurt.jsonfast.dumps`: orjson, a tenth of what placing an
    allocation costs saved). Rows hold no NaN, which orjson would write as null: request
    bodies with them are refused (`yurt.api.http.decode_json_body`, as Go's decoder does)."""
    return jsonfast.dumps(value)


class PendingWrites:
    """A `Batch` that records its writes, serialised at once, for the backend to apply."""

    __slots__ = ("_base", "claimed", "ops")

    def __init__(self, index: int) -> None:
        self._base = index
        self.claimed = 0
        self.ops: list[Op] = []

    def put(self, table: str, key: str, value: JSONValue) -> None:
        self.ops.append((table, key, encode(value)))

    def delete(self, table: str, key: str) -> None:
        self.ops.append((table, key, None))

    def claim_index(self) -> int:
        if not self.claimed:
            self.claimed = self._base + 1
        return self.claimed

    @property
    def empty(self) -> bool:
        return not self.ops and not self.claimed


class Committer(Protocol):
    """What a backend gives `Transaction`."""

    def begin_batch(self) -> PendingWrites:
        """A new batch; raises when one is open (transactions do not nest)."""

    def end_batch(self) -> None:
        """The open batch is over (committed or not)."""

    def commit_batch(self, batch: PendingWrites) -> None:
        """Apply a non-empty batch atomically, or raise with nothing applied."""


class Transaction:
    """`with backend.transaction() as batch:` -- committed when the block ends without an
    error, discarded when it raises. A class, not a generator: every write goes through it."""

    __slots__ = ("_backend", "_batch")

    def __init__(self, backend: Committer) -> None:
        self._backend = backend
        self._batch: PendingWrites | None = None

    def __enter__(self) -> PendingWrites:
        self._batch = self._backend.begin_batch()
        return self._batch

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        batch, self._batch = self._batch, None
        self._backend.end_batch()
        if exc_type is None and batch is not None and not batch.empty:
            self._backend.commit_batch(batch)

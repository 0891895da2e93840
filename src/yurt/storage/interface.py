"""The store interface: what the catalog's and the scheduler's stores need from a backend.

A backend holds named tables of string keys to JSON documents, one monotonic index, and
nothing else: the domain stores keep their own in-memory copies and indexes, loaded once at
start with `load()`. It is shaped so that a replicated backend (etcd, issue 18) can stand in
for the embedded SQLite one without the domain code changing:

- a table is a key prefix, a row one key (etcd: `<prefix>/<table>/<key>`);
- a transaction is a batch of puts and deletes applied all or nothing together with the
  index bump (etcd: one `Txn`, the index being the revision it commits at); nothing is
  acknowledged before the commit returns, and a batch that raises is discarded whole;
- `snapshot()` is a self-contained archive any backend can `restore()` (`storage/archive.py`).

Watches by topic stay in the process (`storage/topics.py` publishes what a commit touched);
`follow()` is where a shared backend reports the rows other servers changed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

# A JSON document as `json.loads` returns it; the backend serialises it on `put`, so a
# later change to the caller's object does not change what was written.
JSONValue = Any


@dataclass(frozen=True)
class Reclaimed:
    """What one `reclaim()` gave back: pages freed from the backing file."""

    pages: int
    page_size: int

    @property
    def bytes(self) -> int:
        return self.pages * self.page_size


@dataclass(frozen=True)
class RemoteChange:
    """One row that another writer of a shared backend changed: `value` None when it was
    deleted; `revision` orders the changes."""

    table: str
    key: str
    value: JSONValue | None
    revision: int


# called with the rows of one commit of another writer, together
Follower = Callable[[list[RemoteChange]], None]


class Batch(Protocol):
    """The writes of one open transaction, applied when it commits."""

    def put(self, table: str, key: str, value: JSONValue) -> None:
        """Create or replace `key` in `table`."""

    def delete(self, table: str, key: str) -> None:
        """Remove `key` from `table` (nothing when it is not there)."""

    def claim_index(self) -> int:
        """The index this transaction commits at: the first call takes the next one, the
        next calls answer the same. A transaction that never claims one commits its writes
        without moving the index (the catalog's output-only check updates)."""


class Backend(Protocol):
    """One store's durable state. Used from one thread (the event loop's)."""

    @property
    def index(self) -> int:
        """The index of the last committed transaction that claimed one (at least 1). It
        never goes backwards, across restarts included."""

    def load(self, table: str) -> Iterator[tuple[str, JSONValue]]:
        """Every row of `table`, in the order the keys were first written."""

    def get(self, table: str, key: str) -> JSONValue | None:
        """One committed row, or None."""

    def transaction(self) -> AbstractContextManager[Batch]:
        """A batch committed atomically when the block ends, discarded when it raises; an
        error of the commit itself is raised from the block's end with nothing applied.
        Transactions do not nest."""

    def snapshot(self) -> bytes:
        """Every table and the index, as one self-contained archive."""

    def restore(self, archive: bytes) -> None:
        """Replace every table with the archive's, atomically. The restore is a write: the
        index becomes one above the larger of the archive's and the current one, so that
        blocking readers see a change and the index still never goes backwards."""

    def reclaim(self) -> Reclaimed:
        """Give the space of deleted rows back (vacuum, compaction); outside transactions."""

    def follow(self, callback: Follower) -> None:
        """Deliver the rows of each commit another writer makes to `callback` (on another
        thread, one call per commit), from now on. Only a shared backend (etcd) has other
        writers: the others do nothing."""

    def close(self) -> None: ...

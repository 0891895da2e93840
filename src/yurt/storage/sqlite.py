"""One SQLite database per component, in WAL mode, with a persisted modify index.

The index is the stand-in for the Raft index that Consul and Nomad answer with: it grows by
one for every write that changes something, is committed in the same transaction as the
write, and so never goes backwards across a restart, even after `kill -9`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class Database:
    """A single connection used from the event loop's thread.

    Writes are short (microseconds to a millisecond), so they run inline: a write is
    acknowledged only after its transaction commits.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode keeps every commit across a process crash; only a power loss
        # can drop the last transactions.
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA foreign_keys=ON")
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS yurt_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)"
        )
        self._index = self._read_index()
        self._in_tx = False

    def _read_index(self) -> int:
        row = self.conn.execute("SELECT value FROM yurt_meta WHERE key='index'").fetchone()
        return int(row[0]) if row else 1

    @property
    def index(self) -> int:
        """The index of the last committed change (at least 1)."""
        return self._index

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back (and the index restored) on error."""
        if self._in_tx:
            yield self.conn
            return
        saved = self._index
        self.conn.execute("BEGIN IMMEDIATE")
        self._in_tx = True
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            self._index = saved
            raise
        else:
            self.conn.execute("COMMIT")
        finally:
            self._in_tx = False

    def next_index(self) -> int:
        """Take the next index inside the current transaction."""
        if not self._in_tx:
            raise RuntimeError("next_index() outside a transaction")
        self._index += 1
        self.conn.execute(
            "INSERT INTO yurt_meta(key, value) VALUES('index', ?) "
            "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            (self._index,),
        )
        return self._index

    def close(self) -> None:
        self.conn.close()

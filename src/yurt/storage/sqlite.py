"""One SQLite database per component, in WAL mode, with a persisted modify index.

The index is the stand-in for the Raft index that Consul and Nomad answer with: it grows by
one for every write that changes something, is committed in the same transaction as the
write, and so never goes backwards across a restart, even after `kill -9`.

Deleted rows give their pages back: databases use `auto_vacuum = INCREMENTAL`, and
`reclaim()` (run by the scheduler's garbage collector) returns free pages to the file
system and truncates the WAL. A database created before this setting existed is switched
by one VACUUM when it is first opened (a one-time rewrite of the file).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

# sqlite's PRAGMA auto_vacuum values.
_AUTO_VACUUM_NONE = 0
_AUTO_VACUUM_INCREMENTAL = 2


@dataclass(frozen=True)
class Reclaimed:
    """What one `Database.reclaim()` gave back: pages freed from the main file."""

    pages: int
    page_size: int

    @property
    def bytes(self) -> int:
        return self.pages * self.page_size


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
        # Before anything else: on a new file the mode only takes effect before the first
        # table is created.
        self.conn.execute(f"PRAGMA auto_vacuum={_AUTO_VACUUM_INCREMENTAL}")
        self.conn.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode keeps every commit across a process crash; only a power loss
        # can drop the last transactions.
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA foreign_keys=ON")
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS yurt_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)"
        )
        self._switch_to_incremental_vacuum()
        self._index = self._read_index()
        self._in_tx = False

    def _switch_to_incremental_vacuum(self) -> None:
        """A file made without auto_vacuum keeps that mode until a VACUUM rewrites it."""
        mode = int(self.conn.execute("PRAGMA auto_vacuum").fetchone()[0])
        if mode != _AUTO_VACUUM_NONE or str(self.path) == ":memory:":
            return
        log.info("%s: switching to incremental auto-vacuum (one-time VACUUM)", self.path)
        self.conn.execute("VACUUM")

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

    def reclaim(self) -> Reclaimed:
        """Give the pages of deleted rows back to the file system, and shrink the WAL.

        Called after bulk deletes (garbage collection); cheap when nothing is free."""
        if self._in_tx:
            raise RuntimeError("reclaim() inside a transaction")
        page_size = int(self.conn.execute("PRAGMA page_size").fetchone()[0])
        free = int(self.conn.execute("PRAGMA freelist_count").fetchone()[0])
        if free:
            # Each step of this statement frees one page, and the sqlite3 module's
            # execute() steps a row-less statement once: executescript() runs it to the end.
            self.conn.executescript("PRAGMA incremental_vacuum;")
        # The shrunken pages live in the WAL until a checkpoint writes them back; TRUNCATE
        # also gives the WAL's own space back.
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        left = int(self.conn.execute("PRAGMA freelist_count").fetchone()[0])
        return Reclaimed(pages=free - left, page_size=page_size)

    def close(self) -> None:
        self.conn.close()

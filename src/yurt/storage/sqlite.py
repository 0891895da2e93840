"""The SQLite backend: one database per component, in WAL mode, with a persisted index.

`Database` is the connection (pragmas, transactions, the index, vacuum); `SQLiteBackend`
implements the store interface on it with one table, `objects(kind, key, body)`: the
interface's table is `kind`, its value the JSON text `body`. The scheduler has always kept
this layout; the catalog's older typed tables are moved into it when first opened
(`storage/sqlite_legacy.py`).

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
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from yurt.storage import archive
from yurt.storage.batch import PendingWrites, Transaction, decode, encode
from yurt.storage.checkpoint import Checkpointer
from yurt.storage.interface import Backend, Follower, JSONValue, Reclaimed
from yurt.storage.sqlite_legacy import migrate_legacy_tables

log = logging.getLogger(__name__)

# sqlite's PRAGMA auto_vacuum values.
_AUTO_VACUUM_NONE = 0
_AUTO_VACUUM_INCREMENTAL = 2
_WAL_KEPT_BYTES = 32 * 1024 * 1024


class Database:
    """A single connection used from the event loop's thread.

    Writes are short (microseconds to a millisecond), so they run inline: a write is
    acknowledged only after its transaction commits. Checkpoints of the WAL run beside
    them (`storage/checkpoint.py`).
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
        self._checkpointer: Checkpointer | None = None
        if str(path) != ":memory:":
            self.conn.execute("PRAGMA wal_autocheckpoint=0")
            # A WAL a burst of writes made long goes back to this size when it starts over.
            self.conn.execute(f"PRAGMA journal_size_limit={_WAL_KEPT_BYTES}")
            self._checkpointer = Checkpointer(self.path)
            # A database dropped without close() (tests do) takes its thread with it.
            weakref.finalize(self, self._checkpointer.stop)
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
            if self._checkpointer is not None:
                self._checkpointer.committed(self.conn)
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

    def set_index(self, index: int) -> None:
        """Move the index to `index` inside the current transaction (a restore)."""
        if not self._in_tx:
            raise RuntimeError("set_index() outside a transaction")
        self._index = index

    def reclaim(self) -> Reclaimed:
        """Give the pages of deleted rows back to the file system, and shrink the WAL.

        Called after bulk deletes (garbage collection); cheap when nothing is free."""
        if self._in_tx:
            raise RuntimeError("reclaim() inside a transaction")
        if self._checkpointer is None:
            return self._reclaim()
        # A TRUNCATE checkpoint that meets the thread's checkpoint truncates nothing.
        with self._checkpointer.exclusive():
            return self._reclaim()

    def _reclaim(self) -> Reclaimed:
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
        if self._checkpointer is not None:
            self._checkpointer.close()
        self.conn.close()


_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS objects ("
    " kind TEXT NOT NULL, key TEXT NOT NULL, body TEXT NOT NULL,"
    " PRIMARY KEY(kind, key))"
)
_PUT = (
    "INSERT INTO objects(kind, key, body) VALUES(?, ?, ?) "
    "ON CONFLICT(kind, key) DO UPDATE SET body=excluded.body"
)
_DELETE = "DELETE FROM objects WHERE kind=? AND key=?"


class SQLiteBackend(Backend):
    """The store interface on one SQLite file (or `:memory:`).

    A transaction's writes are kept in memory until it ends, then applied in one
    `BEGIN IMMEDIATE ... COMMIT` with the index: nothing touches the file for a
    transaction that raises, and a commit that fails is rolled back whole.
    """

    def __init__(self, path: Path | str) -> None:
        self.db = Database(path)
        self.db.conn.execute(_SCHEMA)
        with self.db.transaction() as conn:
            migrate_legacy_tables(conn)
        self._batch: PendingWrites | None = None

    @property
    def index(self) -> int:
        return self.db.index

    def load(self, table: str) -> Iterator[tuple[str, JSONValue]]:
        # rowid order is the order keys were first written (an upsert keeps its row)
        rows = self.db.conn.execute(
            "SELECT key, body FROM objects WHERE kind=? ORDER BY rowid", (table,)
        )
        for key, body in rows:
            yield key, decode(body)

    def get(self, table: str, key: str) -> JSONValue | None:
        row = self.db.conn.execute(
            "SELECT body FROM objects WHERE kind=? AND key=?", (table, key)
        ).fetchone()
        return None if row is None else decode(row[0])

    def transaction(self) -> Transaction:
        return Transaction(self)

    def begin_batch(self) -> PendingWrites:
        if self._batch is not None:
            raise RuntimeError("transactions do not nest")
        self._batch = PendingWrites(self.db.index)
        return self._batch

    def end_batch(self) -> None:
        self._batch = None

    def commit_batch(self, batch: PendingWrites) -> None:
        with self.db.transaction() as conn:
            execute = conn.execute
            for table, key, body in batch.ops:
                if body is None:
                    execute(_DELETE, (table, key))
                else:
                    execute(_PUT, (table, key, body))
            if batch.claimed:
                self.db.next_index()

    def snapshot(self) -> bytes:
        conn = self.db.conn
        # one read transaction: the rows and the index of the same moment
        conn.execute("BEGIN")
        try:
            rows = conn.execute("SELECT kind, key, body FROM objects ORDER BY rowid").fetchall()
            index = self.db.index
        finally:
            conn.execute("COMMIT")
        return archive.encode(index, ((r[0], r[1], r[2]) for r in rows))

    def restore(self, data: bytes) -> None:
        if self._batch is not None:
            raise RuntimeError("restore() inside a transaction")
        got = archive.decode(data)
        floor = max(got.index, self.db.index)
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM objects")
            conn.executemany(
                "INSERT INTO objects(kind, key, body) VALUES(?, ?, ?)",
                ((t, k, encode(v)) for t, k, v in got.rows),
            )
            self.db.set_index(floor)
            self.db.next_index()

    def reclaim(self) -> Reclaimed:
        if self._batch is not None:
            raise RuntimeError("reclaim() inside a transaction")
        return self.db.reclaim()

    def follow(self, callback: Follower) -> None:
        """No other writer shares this state: nothing to deliver."""

    def close(self) -> None:
        self.db.close()

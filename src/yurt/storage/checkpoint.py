"""WAL checkpoints on a thread of their own, off the commit path.

SQLite's automatic checkpoint runs inside the COMMIT that crosses 1,000 WAL pages: that
commit copies the WAL into the database file and fsyncs it, a pause of 50-150 ms on an
ordinary disk that lands on whichever write happened to cross the mark (the p99 of the
scheduler's evaluations was that one commit). Here the writer's connection has automatic
checkpoints off, and a second connection on a daemon thread runs PASSIVE checkpoints, which
never block the writer (the sqlite3 module releases the GIL while SQLite works, so the
copy and the fsync run beside the event loop). A checkpoint follows a commit after at most
`delay` seconds; the last connection to close checkpoints whatever is left.

A checkpoint beside a writer does not by itself keep the WAL short: SQLite starts the WAL
over only at a write that finds every frame of it copied, and a writer that commits while
the copy runs always finds a few new ones (a steady stream of commits grew it by a gigabyte
a minute). So once the WAL holds `limit_pages`, the writer's own connection runs one PASSIVE
checkpoint after its commit (`catch_up`): it copies only what came since the thread's last
checkpoint (at most `delay` seconds of commits), and the next write starts the WAL over.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

log = logging.getLogger(__name__)


class Checkpointer:
    """Checkpoints one database file's WAL after commits, from a daemon thread."""

    def __init__(self, path: Path, delay: float = 0.2, limit_pages: int = 8192) -> None:
        self.path = path
        self.delay = delay
        self.limit_pages = limit_pages
        self.checkpoints = 0
        self.catch_ups = 0
        # The WAL's length in pages at the thread's last checkpoint (read by the writer).
        self.wal_pages = 0
        self._wake = threading.Event()
        self._stopping = threading.Event()
        # Held by each checkpoint of the thread; `exclusive` holds it for the writer's own
        # (a TRUNCATE that finds a checkpoint running does not truncate).
        self._lock = threading.Lock()
        self._thread = threading.Thread(
            target=self._run, name=f"checkpoint {path.name}", daemon=True
        )
        self._thread.start()

    def committed(self, conn: sqlite3.Connection) -> None:
        """A transaction committed on the writer's `conn`: its pages are in the WAL."""
        self._wake.set()
        if self.wal_pages >= self.limit_pages:
            self.catch_up(conn)

    def exclusive(self) -> threading.Lock:
        """`with checkpointer.exclusive():` no checkpoint of the thread runs meanwhile."""
        return self._lock

    def catch_up(self, conn: sqlite3.Connection) -> None:
        """Copy the rest of the WAL from the writer's connection, so that the next write
        starts it over (the thread checkpointing: the next commit tries again)."""
        if not self._lock.acquire(blocking=False):
            return
        try:
            self._catch_up(conn)
        finally:
            self._lock.release()

    def _catch_up(self, conn: sqlite3.Connection) -> None:
        try:
            busy, log_pages, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.Error as exc:
            log.warning("%s: checkpoint failed: %s", self.path, exc)
            return
        if not busy and log_pages == copied:
            self.wal_pages = 0
            self.catch_ups += 1

    def stop(self) -> None:
        """Ask the thread to end, without waiting for it (safe from a finalizer)."""
        self._stopping.set()
        self._wake.set()

    def close(self) -> None:
        self.stop()
        self._thread.join()

    def _run(self) -> None:
        conn = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        try:
            while True:
                self._wake.wait()
                # Commits arriving within `delay` share one checkpoint.
                if self._stopping.wait(self.delay):
                    return
                self._wake.clear()
                # A stop() that came after the delay ended had its wake-up cleared just
                # now: without this look the thread would wait for a wake that never comes
                # (and close() with it).
                if self._stopping.is_set():
                    return
                self._checkpoint(conn)
        finally:
            conn.close()

    def _checkpoint(self, conn: sqlite3.Connection) -> None:
        with self._lock:
            self._checkpoint_now(conn)

    def _checkpoint_now(self, conn: sqlite3.Connection) -> None:
        try:
            _busy, log_pages, _copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            self.wal_pages = log_pages
            self.checkpoints += 1
        except sqlite3.Error as exc:
            # A checkpoint that cannot run now (the file busy, the disk full) leaves the
            # WAL as it is: every commit in it stays readable, and the next one retries.
            log.warning("%s: checkpoint failed: %s", self.path, exc)

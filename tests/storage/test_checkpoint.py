"""WAL checkpoints run beside the writer, not inside the commit that crosses the mark."""

import gc
import sqlite3
import time
from pathlib import Path

import pytest

from yurt.storage import Database
from yurt.storage.checkpoint import Checkpointer
from yurt.storage.sqlite import SQLiteBackend


def _until(cond: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def _fill(backend: SQLiteBackend, rows: int, size: int = 2000) -> None:
    for start in range(0, rows, 100):
        with backend.transaction() as txn:
            for i in range(start, min(rows, start + 100)):
                txn.put("things", f"k{i:05d}", {"v": "x" * size, "i": i})


def _with_checkpointer(
    path: Path, table: str, delay: float = 0.2, limit_pages: int = 8192
) -> tuple[Database, Checkpointer]:
    """A database with `table` whose checkpoint thread has the test's settings."""
    db = Database(path)
    db.conn.execute(f"CREATE TABLE t ({table})")
    assert db._checkpointer is not None
    db._checkpointer.close()
    checkpointer = Checkpointer(path, delay=delay, limit_pages=limit_pages)
    db._checkpointer = checkpointer
    return db, checkpointer


def test_the_writer_never_checkpoints_itself(tmp_path: Path) -> None:
    db = Database(tmp_path / "s.db")
    assert db.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
    db.close()


def test_commits_reach_the_database_file_from_the_checkpoint_thread(tmp_path: Path) -> None:
    backend = SQLiteBackend(tmp_path / "s.db")
    checkpointer = backend.db._checkpointer
    assert checkpointer is not None
    before = checkpointer.checkpoints
    _fill(backend, 2000)  # ~4 MB: far past SQLite's own 1,000-page mark
    _until(lambda: checkpointer.checkpoints > before)
    # The pages are in the main file, not only in the WAL: the writer did not copy them.
    _until(lambda: (tmp_path / "s.db").stat().st_size > 2000 * 2000)
    assert backend.get("things", "k01999") == {"v": "x" * 2000, "i": 1999}
    backend.close()


def test_close_stops_the_thread_and_keeps_every_commit(tmp_path: Path) -> None:
    backend = SQLiteBackend(tmp_path / "s.db")
    checkpointer = backend.db._checkpointer
    assert checkpointer is not None
    _fill(backend, 300)
    backend.close()
    assert not checkpointer._thread.is_alive()
    again = SQLiteBackend(tmp_path / "s.db")
    assert again.get("things", "k00299") == {"v": "x" * 2000, "i": 299}
    assert again.index == backend.index
    again.close()


def test_commits_within_the_delay_share_one_checkpoint(tmp_path: Path) -> None:
    db, slow = _with_checkpointer(tmp_path / "s.db", "v INTEGER", delay=0.5)
    for i in range(20):
        with db.transaction() as conn:
            conn.execute("INSERT INTO t VALUES (?)", (i,))
    _until(lambda: slow.checkpoints >= 1)
    time.sleep(0.7)
    assert slow.checkpoints == 1
    db.close()


def test_a_checkpoint_that_fails_is_logged_and_the_next_commit_retries(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = Database(tmp_path / "s.db")
    checkpointer = db._checkpointer
    assert checkpointer is not None
    broken = sqlite3.connect(":memory:")
    broken.close()  # a closed connection raises sqlite3.ProgrammingError (an Error)
    checkpointer._checkpoint(broken)
    assert "checkpoint failed" in caplog.text
    db.conn.execute("CREATE TABLE t (v INTEGER)")
    before = checkpointer.checkpoints
    with db.transaction() as conn:
        conn.execute("INSERT INTO t VALUES (1)")
    _until(lambda: checkpointer.checkpoints > before)
    db.close()


def test_a_database_dropped_without_close_takes_its_thread_with_it(tmp_path: Path) -> None:
    db = Database(tmp_path / "s.db")
    checkpointer = db._checkpointer
    assert checkpointer is not None
    del db
    gc.collect()
    checkpointer._thread.join(timeout=5)
    assert not checkpointer._thread.is_alive()


def test_a_steady_stream_of_commits_keeps_the_wal_bounded(tmp_path: Path) -> None:
    # Commits back to back, as a busy writer makes them: a checkpoint beside them never
    # finds the WAL wholly copied, so without the writer's catch-up it grows without end.
    db, checkpointer = _with_checkpointer(
        tmp_path / "s.db", "k INTEGER PRIMARY KEY, v TEXT", delay=0.02, limit_pages=64
    )
    written = 0
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline or checkpointer.catch_ups < 2:
        with db.transaction() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO t VALUES (?, ?)",
                ((k, "x" * 2000) for k in range(written % 500, written % 500 + 4)),
            )
        written += 4 * 2000
        assert time.monotonic() < deadline + 10, "the WAL never started over"
    wal = (tmp_path / "s.db-wal").stat().st_size
    assert wal < written / 4, f"WAL of {wal} bytes after {written} bytes written"
    db.close()


def test_reclaim_and_the_threads_checkpoints_never_overlap(tmp_path: Path) -> None:
    # A TRUNCATE checkpoint that meets a running checkpoint truncates nothing: reclaim()
    # waits for the thread's, and the thread's wait for reclaim().
    import threading

    db = Database(tmp_path / "s.db")
    db.conn.execute("CREATE TABLE t (v TEXT)")
    checkpointer = db._checkpointer
    assert checkpointer is not None
    with db.transaction() as conn:
        conn.executemany("INSERT INTO t VALUES (?)", [("x" * 1000,)] * 2000)
    _until(lambda: checkpointer.checkpoints >= 1)
    done = threading.Event()
    with checkpointer.exclusive():  # as a checkpoint of the thread in progress
        before = checkpointer.checkpoints
        with db.transaction() as conn:
            conn.execute("INSERT INTO t VALUES ('y')")
        worker = threading.Thread(target=lambda: (db.reclaim(), done.set()))
        worker.start()
        time.sleep(0.5)
        assert not done.is_set()  # reclaim waits its turn
        assert checkpointer.checkpoints == before  # and the thread's checkpoint too
    worker.join(timeout=10)
    assert done.is_set()
    assert (tmp_path / "s.db-wal").stat().st_size == 0  # its TRUNCATE did truncate
    db.close()


def test_a_stop_right_after_the_delay_still_ends_the_thread(tmp_path: Path) -> None:
    # stop() sets both events; landing between the end of the delay and the thread's clearing
    # of its wake-up, it once left the thread waiting for good and close() hung (seen in CI).
    import threading

    db, checkpointer = _with_checkpointer(tmp_path / "s.db", "v INTEGER", delay=0.01)

    class StopAfterTheDelay(threading.Event):
        def wait(self, timeout: float | None = None) -> bool:
            ended = super().wait(timeout)
            if not ended:
                checkpointer.stop()
            return ended

    checkpointer._stopping = StopAfterTheDelay()
    with db.transaction() as conn:
        conn.execute("INSERT INTO t VALUES (1)")
    checkpointer._thread.join(timeout=5)
    assert not checkpointer._thread.is_alive()
    db.close()
    assert sqlite3.connect(tmp_path / "s.db").execute("SELECT v FROM t").fetchall() == [(1,)]

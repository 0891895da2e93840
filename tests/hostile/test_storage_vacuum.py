"""Garbage collection gives disk back; servers lift their open-files limit at start."""

from __future__ import annotations

import resource
import sqlite3
from pathlib import Path

import pytest
import requests

from tests.scheduler.conftest import SchedulerProcess
from yurt.jobspec import parse_job
from yurt.storage import Database

ROOT = Path(__file__).resolve().parents[2]


def _size(path: Path) -> int:
    """The database and its WAL together: what the data directory holds for it."""
    wal = path.with_name(path.name + "-wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def _fill(db: Database, rows: int) -> None:
    db.conn.execute("CREATE TABLE IF NOT EXISTS t (v TEXT)")
    with db.transaction() as conn:
        conn.executemany("INSERT INTO t VALUES (?)", [("x" * 1000,)] * rows)
        db.next_index()


def test_new_databases_use_incremental_auto_vacuum(tmp_path: Path) -> None:
    db = Database(tmp_path / "new.db")
    assert db.conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2
    assert db.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_reclaim_gives_the_pages_of_deleted_rows_back(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    db = Database(path)
    _fill(db, 5000)
    db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    full = _size(path)
    with db.transaction() as conn:
        conn.execute("DELETE FROM t")
        db.next_index()
    reclaimed = db.reclaim()
    assert reclaimed.pages > 1000
    assert reclaimed.bytes == reclaimed.pages * reclaimed.page_size
    assert _size(path) < full / 10
    assert db.conn.execute("PRAGMA freelist_count").fetchone()[0] == 0
    assert db.index == 3  # nothing else changed: the index survives, and reclaim adds none


def test_reclaim_with_nothing_free_is_harmless(tmp_path: Path) -> None:
    db = Database(tmp_path / "s.db")
    _fill(db, 10)
    assert db.reclaim().pages == 0
    with pytest.raises(RuntimeError), db.transaction():
        db.reclaim()


def test_an_old_database_is_switched_by_one_vacuum_and_keeps_its_data(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.execute("CREATE TABLE yurt_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)")
    old.execute("INSERT INTO yurt_meta VALUES ('index', 42)")
    old.execute("CREATE TABLE t (v TEXT)")
    old.executemany("INSERT INTO t VALUES (?)", [("y" * 1000,)] * 2000)
    old.commit()
    assert old.execute("PRAGMA auto_vacuum").fetchone()[0] == 0
    old.close()
    db = Database(path)
    assert db.conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2
    assert db.index == 42
    assert db.conn.execute("SELECT count(*) FROM t").fetchone()[0] == 2000
    with db.transaction() as conn:
        conn.execute("DELETE FROM t")
    assert db.reclaim().pages > 400


@pytest.mark.process
def test_200_job_cycles_and_system_gc_shrink_the_scheduler_db(tmp_path: Path) -> None:
    sched = SchedulerProcess(tmp_path).start()
    try:
        api = sched.client()
        template = (ROOT / "jobs" / "job.sleep.nomad").read_text()
        for i in range(200):
            job = parse_job(template.replace('"job-sleep"', f'"cycle-{i}"'), "cycle.nomad")
            job["Meta"] = {"padding": "p" * 2000}
            api.jobs.register_job({"Job": job})
            api.job.deregister_job(f"cycle-{i}", purge=True)
        db = sched.data_dir / "scheduler.db"
        before = _size(db)
        resp = requests.put(f"{sched.url}/v1/system/gc", timeout=30)
        assert resp.status_code == 200
        after = _size(db)
        assert not api.jobs.get_jobs()
        assert before > 1024 * 1024, before
        assert after < before / 4, (before, after)
    finally:
        sched.proc.stop()


@pytest.mark.process
def test_a_server_lifts_its_soft_open_files_limit_to_the_hard_one(tmp_path: Path) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    low = min(1024, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (low, hard))
    try:
        sched = SchedulerProcess(tmp_path).start()  # inherits the low soft limit
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    try:
        limits = Path(f"/proc/{sched.proc.proc.pid}/limits").read_text()
        line = next(x for x in limits.splitlines() if x.startswith("Max open files"))
        assert line.split()[3:5] == [str(hard), str(hard)], line
        if low < hard:
            log = sched.proc.log()
            assert f"raised the open files limit (RLIMIT_NOFILE) from {low} to {hard}" in log
    finally:
        sched.proc.stop()

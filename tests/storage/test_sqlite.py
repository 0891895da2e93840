import sqlite3
from pathlib import Path

import pytest

from yurt.storage import Database
from yurt.storage.sqlite import SQLiteBackend


def test_index_persists_and_rolls_back(tmp_path: Path) -> None:
    db = Database(tmp_path / "state.db")
    db.conn.execute("CREATE TABLE t (v INTEGER)")
    assert db.index == 1
    with db.transaction() as conn:
        conn.execute("INSERT INTO t VALUES (1)")
        assert db.next_index() == 2
    with pytest.raises(RuntimeError), db.transaction() as conn:
        conn.execute("INSERT INTO t VALUES (2)")
        db.next_index()
        raise RuntimeError("boom")
    assert db.index == 2
    db.close()
    again = Database(tmp_path / "state.db")
    assert again.index == 2
    assert [r[0] for r in again.conn.execute("SELECT v FROM t")] == [1]


def test_next_index_needs_a_transaction(tmp_path: Path) -> None:
    db = Database(tmp_path / "s.db")
    with pytest.raises(RuntimeError):
        db.next_index()


def test_a_failed_commit_applies_nothing(tmp_path: Path) -> None:
    backend = SQLiteBackend(tmp_path / "s.db")
    # a real SQLite failure in the middle of the commit (as a full disk would raise)
    backend.db.conn.execute(
        "CREATE TRIGGER fail_boom BEFORE INSERT ON objects WHEN NEW.key = 'boom'"
        " BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
    )
    with pytest.raises(sqlite3.IntegrityError), backend.transaction() as batch:
        batch.put("t", "ok", 1)
        batch.put("t", "boom", 2)
        batch.claim_index()
    assert backend.index == 1
    assert list(backend.load("t")) == []
    with backend.transaction() as batch:
        batch.put("t", "ok", 1)
        batch.claim_index()
    assert backend.index == 2 and backend.get("t", "ok") == 1
    backend.close()


def test_a_transaction_that_changes_nothing_touches_no_file(tmp_path: Path) -> None:
    backend = SQLiteBackend(tmp_path / "s.db")
    before = backend.db.conn.total_changes
    with backend.transaction():
        pass
    assert backend.db.conn.total_changes == before
    with backend.transaction() as batch:
        batch.put("t", "k", "v")
    assert backend.db.conn.total_changes == before + 1
    backend.close()

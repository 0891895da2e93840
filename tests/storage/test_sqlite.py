from pathlib import Path

import pytest

from yurt.storage import Database


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

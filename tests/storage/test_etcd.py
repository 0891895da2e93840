"""The etcd backend beyond the shared contract: two writers on one etcd, the keys as etcd
holds them, the remote-change hook, and failures."""

from __future__ import annotations

import queue
from pathlib import Path

import pytest

from tests.support.etcd import Etcd, shared_endpoint
from tests.support.process import free_port
from yurt.storage.etcd import EtcdBackend, IndexConflict, NotLeader
from yurt.storage.etcd_client import EtcdError, op_delete, op_put
from yurt.storage.interface import RemoteChange


def _pair(tmp_path: Path) -> tuple[EtcdBackend, EtcdBackend]:
    prefix = f"/test{tmp_path}"
    return EtcdBackend([shared_endpoint()], prefix), EtcdBackend([shared_endpoint()], prefix)


def test_two_writers_cannot_take_the_same_index(tmp_path: Path) -> None:
    a, b = _pair(tmp_path)
    try:
        with a.transaction() as batch:
            batch.put("kv", "from-a", 1)
            assert batch.claim_index() == 2
        with pytest.raises(IndexConflict, match="index 2 was taken"), b.transaction() as batch:
            batch.put("kv", "from-b", 2)
            assert batch.claim_index() == 2  # b has not seen a's commit
        assert b.get("kv", "from-b") is None  # nothing of the failed batch
        assert b.index == 2  # b read the index again: a retry takes the next one
        with b.transaction() as batch:
            batch.put("kv", "from-b", 2)
            assert batch.claim_index() == 3
        assert list(a.load("kv")) == [("from-a", 1), ("from-b", 2)]
    finally:
        a.close()
        b.close()


def test_writes_without_an_index_never_conflict(tmp_path: Path) -> None:
    a, b = _pair(tmp_path)
    try:
        with a.transaction() as batch:
            batch.claim_index()
        with b.transaction() as batch:  # b is behind, but claims nothing
            batch.put("checks", "n\0c", {"Status": "passing"})
        assert a.get("checks", "n\0c") == {"Status": "passing"}
    finally:
        a.close()
        b.close()


def test_keys_are_escaped_under_the_prefix(tmp_path: Path) -> None:
    backend = EtcdBackend([shared_endpoint()], f"/test{tmp_path}/")
    try:
        with backend.transaction() as batch:
            batch.put("services", "node/1\0web", {"ID": "web"})
            batch.claim_index()
        raw = [kv.key for kv, _rev in backend.client.scan(f"/test{tmp_path}/".encode())]
        assert sorted(raw) == [
            f"/test{tmp_path}/%meta/index".encode(),
            f"/test{tmp_path}/%order/services/node%2F1%00web".encode(),
            f"/test{tmp_path}/services/node%2F1%00web".encode(),
        ]
        assert list(backend.load("services")) == [("node/1\0web", {"ID": "web"})]
    finally:
        backend.close()


def test_a_row_deleted_and_written_again_in_one_batch_moves_to_the_end(tmp_path: Path) -> None:
    backend = EtcdBackend([shared_endpoint()], f"/test{tmp_path}")
    try:
        with backend.transaction() as batch:
            batch.put("t", "a", 1)
            batch.put("t", "b", 2)
        with backend.transaction() as batch:
            batch.delete("t", "a")
            batch.put("t", "a", 3)
        assert list(backend.load("t")) == [("b", 2), ("a", 3)]
    finally:
        backend.close()


def test_follow_delivers_what_another_writer_changed(tmp_path: Path) -> None:
    writer, follower = _pair(tmp_path)
    got: queue.Queue[list[RemoteChange]] = queue.Queue()
    try:
        follower.follow(got.put)
        with follower.transaction() as batch:  # its own writes are not delivered back
            batch.put("kv", "own", "x")
        with writer.transaction() as batch:
            batch.put("kv", "a/b\0c", {"Value": "dg=="})
            batch.put("nodes", "n1", {"Node": "n1"})
            batch.claim_index()
        with writer.transaction() as batch:
            batch.delete("kv", "a/b\0c")
            batch.claim_index()
        first, second = got.get(timeout=10), got.get(timeout=10)  # one call per commit
        assert [(c.table, c.key, c.value) for c in first] == [
            ("kv", "a/b\0c", {"Value": "dg=="}),
            ("nodes", "n1", {"Node": "n1"}),
        ]
        assert [(c.table, c.key, c.value) for c in second] == [("kv", "a/b\0c", None)]
        assert first[0].revision == first[1].revision < second[0].revision
        assert got.empty()
        # the index of a commit is known before its rows are delivered
        assert follower.index == writer.index == 3
        with follower.transaction() as batch:
            assert batch.claim_index() == 4
    finally:
        writer.close()
        follower.close()


def test_follow_starts_where_the_backend_was_opened_and_before_its_commits(
    tmp_path: Path,
) -> None:
    writer, follower = _pair(tmp_path)
    got: queue.Queue[list[RemoteChange]] = queue.Queue()
    try:
        with writer.transaction() as batch:  # after the follower opened, before it follows
            batch.put("kv", "early", 1)
        follower.follow(got.put)
        assert [c.key for c in got.get(timeout=10)] == ["early"]
        with pytest.raises(RuntimeError, match="already"):
            follower.follow(got.put)
        with writer.transaction() as batch:
            batch.put("kv", "late", 2)
        assert [c.key for c in got.get(timeout=10)] == ["late"]
    finally:
        writer.close()
        follower.close()
    late = EtcdBackend([shared_endpoint()], f"/test{tmp_path}")
    try:
        with late.transaction() as batch:
            batch.put("kv", "x", 1)
        with pytest.raises(RuntimeError, match="before the first"):
            late.follow(got.put)
    finally:
        late.close()


def test_a_fenced_write_fails_once_the_leader_key_changed(tmp_path: Path) -> None:
    """The leader's fence: its writes compare the leader key's create revision, so a
    server that lost the key cannot write, whatever it believes."""
    backend = EtcdBackend([shared_endpoint()], f"/test{tmp_path}/scheduler")
    key = f"/test{tmp_path}/%leader/scheduler".encode()
    try:
        _ok, created = backend.client.txn([], [op_put(key, b"a")])
        backend.fence = (key, created)
        with backend.transaction() as batch:
            batch.put("kv", "k", 1)
            batch.claim_index()
        backend.client.txn([], [op_delete(key)])
        backend.client.txn([], [op_put(key, b"b")])  # another server leads now
        with pytest.raises(NotLeader, match="no longer leads"), backend.transaction() as batch:
            batch.put("kv", "k", 2)
            batch.claim_index()
        assert backend.get("kv", "k") == 1
        backend.fence = None  # a follower's own writes are not fenced
        with backend.transaction() as batch:
            batch.put("kv", "k", 3)
        assert backend.get("kv", "k") == 3
    finally:
        backend.close()


def test_memory_and_sqlite_have_nothing_to_follow(tmp_path: Path) -> None:
    from yurt.storage.memory import MemoryBackend
    from yurt.storage.sqlite import SQLiteBackend

    for backend in (MemoryBackend(), SQLiteBackend(tmp_path / "s.db")):
        seen: list[list[RemoteChange]] = []
        backend.follow(seen.append)
        with backend.transaction() as batch:
            batch.put("t", "k", 1)
        assert seen == []
        backend.close()


def test_a_commit_etcd_does_not_answer_raises_and_is_not_acknowledged(tmp_path: Path) -> None:
    with Etcd(tmp_path / "etcd") as etcd:
        backend = EtcdBackend([etcd.endpoint], "/yurt")
        with backend.transaction() as batch:
            batch.put("t", "kept", 1)
            batch.claim_index()
        etcd.stop()
        with pytest.raises(EtcdError), backend.transaction() as batch:
            batch.put("t", "lost", 2)
            batch.claim_index()
        assert backend.index == 2
        etcd.start()
        assert list(backend.load("t")) == [("kept", 1)]
        backend.close()


def test_a_batch_over_etcds_limits_says_which_and_applies_nothing(tmp_path: Path) -> None:
    with Etcd(tmp_path / "etcd", limits=False) as etcd:  # 128 operations per Txn
        backend = EtcdBackend([etcd.endpoint], "/yurt")
        with pytest.raises(EtcdError, match="--max-txn-ops"), backend.transaction() as batch:
            for i in range(100):
                batch.put("t", f"k{i}", i)
            batch.claim_index()
        assert backend.index == 1 and list(backend.load("t")) == []
        with backend.transaction() as batch:  # a batch within them commits
            for i in range(50):
                batch.put("t", f"k{i}", i)
            batch.claim_index()
        assert len(list(backend.load("t"))) == 50
        backend.close()


def test_a_read_after_etcd_restarted_reconnects(tmp_path: Path) -> None:
    with Etcd(tmp_path / "etcd") as etcd:
        backend = EtcdBackend([etcd.endpoint], "/yurt")
        with backend.transaction() as batch:
            batch.put("t", "k", 1)
        etcd.stop()
        etcd.start()  # the backend's idle connection is now closed at the other end
        assert backend.get("t", "k") == 1
        backend.close()


def test_an_endpoint_that_is_down_is_passed_over(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    backend = EtcdBackend([dead, shared_endpoint()], f"/test{tmp_path}")
    try:
        with backend.transaction() as batch:
            batch.put("t", "k", 1)
            batch.claim_index()
        assert backend.get("t", "k") == 1
    finally:
        backend.close()

"""The store interface's contract, held by every backend (yurt.storage.interface.Backend)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.etcd import shared_endpoint
from yurt.storage.archive import ArchiveError
from yurt.storage.etcd import EtcdBackend
from yurt.storage.interface import Backend
from yurt.storage.memory import MemoryBackend
from yurt.storage.sqlite import SQLiteBackend

# name -> (open a backend in a directory); the same directory opens the same state again
# for the durable ones (etcd: the directory names the key prefix in the run's one etcd)
Opener = Callable[[Path], Backend]
OPENERS: dict[str, Opener] = {
    "memory": lambda _dir: MemoryBackend(),
    "sqlite": lambda d: SQLiteBackend(d / "state.db"),
    "etcd": lambda d: EtcdBackend([shared_endpoint()], f"/test{d}"),
}
# the backends that need a server process run in the process lane
_PROCESS = {"etcd": pytest.mark.process(reason="a real etcd (tests/support/etcd.py)")}


def _names(names: list[str]) -> list[object]:
    return [pytest.param(n, marks=_PROCESS[n]) if n in _PROCESS else n for n in names]


DURABLE = _names(["etcd", "sqlite"])


@pytest.fixture(params=_names(sorted(OPENERS)))
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    b = OPENERS[request.param](tmp_path)
    yield b
    b.close()


def rows(b: Backend, table: str) -> list[tuple[str, object]]:
    return list(b.load(table))


def test_a_new_backend_is_empty_at_index_1(backend: Backend) -> None:
    assert backend.index == 1
    assert rows(backend, "t") == []
    assert backend.get("t", "k") is None


def test_a_transaction_commits_all_its_writes_and_one_index(backend: Backend) -> None:
    with backend.transaction() as batch:
        batch.put("a", "k1", {"n": 1})
        batch.put("b", "k1", [1, "two", None])
        assert batch.claim_index() == 2
        assert batch.claim_index() == 2  # one index per transaction
        # nothing is visible before the commit
        assert backend.get("a", "k1") is None
        assert backend.index == 1
    assert backend.index == 2
    assert backend.get("a", "k1") == {"n": 1}
    assert rows(backend, "b") == [("k1", [1, "two", None])]


def test_a_transaction_that_raises_leaves_nothing(backend: Backend) -> None:
    with backend.transaction() as batch:
        batch.put("t", "keep", 1)
        batch.claim_index()
    with pytest.raises(RuntimeError, match="boom"), backend.transaction() as batch:
        batch.put("t", "lost", 2)
        batch.delete("t", "keep")
        batch.claim_index()
        raise RuntimeError("boom")
    assert backend.index == 2
    assert rows(backend, "t") == [("keep", 1)]
    with backend.transaction() as batch:  # and the backend goes on working
        batch.put("t", "next", 3)
        assert batch.claim_index() == 3
    assert [k for k, _ in rows(backend, "t")] == ["keep", "next"]


def test_writes_without_an_index_do_not_move_it(backend: Backend) -> None:
    with backend.transaction() as batch:
        batch.put("t", "k", "quiet")
    assert backend.index == 1
    assert backend.get("t", "k") == "quiet"


def test_the_value_is_taken_at_put(backend: Backend) -> None:
    doc = {"tags": ["a"]}
    with backend.transaction() as batch:
        batch.put("t", "k", doc)
        doc["tags"].append("b")
    assert backend.get("t", "k") == {"tags": ["a"]}


def test_later_writes_of_a_transaction_win_in_order(backend: Backend) -> None:
    with backend.transaction() as batch:
        batch.put("t", "k", 1)
        batch.delete("t", "k")
        batch.put("t", "j", 1)
        batch.put("t", "j", 2)
        batch.delete("t", "missing")
    assert rows(backend, "t") == [("j", 2)]


def test_load_answers_in_the_order_keys_were_first_written(backend: Backend) -> None:
    with backend.transaction() as batch:
        for key in ("m", "a", "z"):
            batch.put("t", key, key)
    with backend.transaction() as batch:
        batch.put("t", "a", "again")  # a replacement keeps its place
        batch.put("other", "b", 0)  # tables are apart
    assert rows(backend, "t") == [("m", "m"), ("a", "again"), ("z", "z")]


def test_transactions_do_not_nest(backend: Backend) -> None:
    with backend.transaction() as batch:
        batch.put("t", "outer", 1)
        with pytest.raises(RuntimeError), backend.transaction():
            pass
    assert backend.get("t", "outer") == 1


def test_large_values(backend: Backend) -> None:
    big = "x" * (4 << 20)
    nested: object = "leaf"
    for _ in range(50):
        nested = {"n": nested, "u": "é\u2603\x00"}
    with backend.transaction() as batch:
        batch.put("t", "big", big)
        batch.put("t", "deep", nested)
        batch.claim_index()
    assert backend.get("t", "big") == big
    assert backend.get("t", "deep") == nested
    copy = MemoryBackend()
    copy.restore(backend.snapshot())
    assert copy.get("t", "big") == big


def test_many_keys(backend: Backend) -> None:
    n = 20_000
    with backend.transaction() as batch:
        for i in range(n):
            batch.put("t", f"key/{i:05d}\x00{i}", {"i": i})
        batch.claim_index()
    with backend.transaction() as batch:
        for i in range(0, n, 2):
            batch.delete("t", f"key/{i:05d}\x00{i}")
        batch.claim_index()
    left = rows(backend, "t")
    assert len(left) == n // 2
    assert left[0] == ("key/00001\x001", {"i": 1})
    assert [v["i"] for _, v in left] == list(range(1, n, 2))  # type: ignore[index]
    assert backend.index == 3


def _fill(b: Backend) -> None:
    for i in range(3):
        with b.transaction() as batch:
            batch.put("nodes", f"n{i}", {"Name": f"n{i}", "Meta": {"i": str(i)}})
            batch.put("kv", f"k{i}", "dmFsdWU=")
            batch.claim_index()
    with b.transaction() as batch:
        batch.delete("kv", "k1")
        batch.put("_index", "nodes", 4)
        batch.claim_index()


@pytest.mark.parametrize("into", _names(sorted(OPENERS)))
def test_snapshot_restores_into_any_backend(backend: Backend, into: str, tmp_path: Path) -> None:
    _fill(backend)
    archive = backend.snapshot()
    target = OPENERS[into](tmp_path / "target")
    try:
        with target.transaction() as batch:  # what the restore replaces
            batch.put("nodes", "stale", {})
            batch.put("gone", "x", 1)
            batch.claim_index()
        target.restore(archive)
        for table in ("nodes", "kv", "_index", "gone"):
            assert rows(target, table) == rows(backend, table)
        # a restore is a write: above both indexes, so blocked readers wake
        assert target.index == backend.index + 1
        with target.transaction() as batch:
            assert batch.claim_index() == backend.index + 2
    finally:
        target.close()


def test_a_restore_never_moves_the_index_back(backend: Backend, tmp_path: Path) -> None:
    old = MemoryBackend()
    archive = old.snapshot()  # taken at index 1
    for _ in range(5):
        with backend.transaction() as batch:
            batch.claim_index()
    backend.restore(archive)
    assert backend.index == 7
    assert rows(backend, "t") == []


@pytest.mark.parametrize("garbage", [b"", b"not gzip", b"\x1f\x8b\x08\x00\x00"])
def test_a_bad_archive_is_refused_and_changes_nothing(backend: Backend, garbage: bytes) -> None:
    _fill(backend)
    before, index = rows(backend, "nodes"), backend.index
    with pytest.raises(ArchiveError):
        backend.restore(garbage)
    assert rows(backend, "nodes") == before
    assert backend.index == index


def test_a_foreign_archive_is_refused(backend: Backend) -> None:
    import gzip

    for text in ('{"format": "other", "version": 1, "index": 3}\n', '{"format": "yurt-store-'
                 'snapshot", "version": 99, "index": 3}\n', '{"format": "yurt-store-snapshot", '
                 '"version": 1, "index": 3}\n[1, 2]\n'):  # fmt: skip
        with pytest.raises(ArchiveError):
            backend.restore(gzip.compress(text.encode()))


def test_reclaim_outside_a_transaction(backend: Backend) -> None:
    _fill(backend)
    got = backend.reclaim()
    assert got.pages >= 0 and got.bytes == got.pages * got.page_size
    with backend.transaction(), pytest.raises(RuntimeError):
        backend.reclaim()


@pytest.mark.parametrize("name", DURABLE)
def test_state_and_index_survive_a_reopen(name: str, tmp_path: Path) -> None:
    first = OPENERS[name](tmp_path)
    _fill(first)
    index, nodes = first.index, rows(first, "nodes")
    first.close()
    again = OPENERS[name](tmp_path)
    try:
        assert again.index == index
        assert rows(again, "nodes") == nodes
        with again.transaction() as batch:
            assert batch.claim_index() == index + 1
    finally:
        again.close()


@pytest.mark.parametrize("name", DURABLE)
def test_a_restored_index_survives_a_reopen(name: str, tmp_path: Path) -> None:
    source = MemoryBackend()
    _fill(source)
    first = OPENERS[name](tmp_path)
    first.restore(source.snapshot())
    first.close()
    again = OPENERS[name](tmp_path)
    try:
        assert again.index == source.index + 1
        assert rows(again, "nodes") == rows(source, "nodes")
    finally:
        again.close()

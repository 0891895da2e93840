"""The variables' keyring in the scheduler's store: key rows and which one is active (by
tables), several keys opening what each sealed, two stores on one backend sharing the key,
two servers making it at the same moment ending with one, a follower that may not make
one, and the key of an older yurt's data dir imported so that what it sealed still opens."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from yurt.scheduler import store as s
from yurt.scheduler.keyring import (
    ACTIVE,
    INACTIVE,
    Keyring,
    KeyringError,
    NoRootKey,
    RootKey,
    legacy_key,
    ordered,
)
from yurt.scheduler.ops_variables import VariableOps, variable_key
from yurt.storage.interface import Backend
from yurt.storage.memory import MemoryBackend

Obj = dict[str, Any]


class Vars(VariableOps):
    """The variable operations of one server over `store` (what `Operations` mixes in)."""

    def __init__(self, store: s.Store, *, leads: bool = True) -> None:
        self.store = store
        self.makes_keys = leads


def _row(key_id: str, state: str, index: int) -> Obj:
    return RootKey(key_id, bytes(32)).row(state, index, 0)


# --- rows and order (pure) -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("rows", "want"),
    [
        ([_row("a", ACTIVE, 5)], ["a"]),
        # an imported key is inactive: it opens, it does not seal
        ([_row("old", INACTIVE, 3), _row("a", ACTIVE, 5)], ["a", "old"]),
        # two servers made one at the same moment: the older is active on both
        ([_row("b", ACTIVE, 7), _row("a", ACTIVE, 6)], ["a", "b"]),
        ([_row("z", ACTIVE, 6), _row("y", ACTIVE, 6)], ["y", "z"]),
        ([], []),
    ],
)
def test_the_active_key_comes_first(rows: list[Obj], want: list[str]) -> None:
    assert [k.key_id for k in ordered(rows)] == want


@pytest.mark.parametrize(
    ("doc", "error"),
    [
        ({"KeyID": "k", "Algorithm": "rot13", "Key": ""}, "'rot13' is not 'aes256-gcm'"),
        ({"KeyID": "k", "Algorithm": "aes256-gcm", "Key": "!!"}, "not base64"),
        ({"KeyID": "k", "Algorithm": "aes256-gcm", "Key": "AAAA"}, "not a 256-bit key"),
        ({"KeyID": "", "Algorithm": "aes256-gcm", "Key": "A" * 44}, "with a KeyID"),
    ],
)
def test_a_bad_key_is_refused_naming_where_it_is(doc: Obj, error: str) -> None:
    with pytest.raises(KeyringError, match=error) as got:
        RootKey.from_doc(doc, "keyring 'k'")
    assert str(got.value).startswith("keyring 'k': ")


def test_a_row_gives_back_its_key() -> None:
    key = RootKey.generated()
    row = key.row(ACTIVE, 9, 123)
    assert RootKey.from_doc(row, "row") == key
    assert {k: row[k] for k in ("State", "CreateIndex", "ModifyIndex", "CreateTime")} == {
        "State": "active",
        "CreateIndex": 9,
        "ModifyIndex": 9,
        "CreateTime": 123,
    }


def test_the_active_key_seals_and_signs_every_key_opens_and_verifies() -> None:
    active, old = RootKey.generated(), RootKey.generated()
    before = Keyring([old])
    sealed_before, old_id = before.seal(b"v1", b"where")
    signed_before = before.sign("alloc")
    both = Keyring([active, old])
    blob, key_id = both.seal(b"v2", b"where")
    assert key_id == active.key_id == both.key_id and both.key_ids == [active.key_id, old_id]
    assert both.open(blob, key_id, b"where") == b"v2"
    assert both.open(sealed_before, old_id, b"where") == b"v1"
    assert both.verify("alloc", signed_before) and both.verify("alloc", both.sign("alloc"))
    assert both.sign("alloc") != signed_before and not both.verify("other", signed_before)
    with pytest.raises(NoRootKey):
        Keyring([])


# --- in the store ----------------------------------------------------------------------


def _two_servers(backend: Backend) -> tuple[Vars, Vars]:
    return Vars(s.Store(backend)), Vars(s.Store(backend))


def test_a_variable_sealed_through_one_store_opens_through_another(tmp_path: Path) -> None:
    one = Vars(s.Store(tmp_path))
    one.keyring_at(tmp_path / "one")
    one.set_variable("default", "app/db", {"password": "hunter2"})
    # a second server on the same SQLite file, its own (empty) data dir
    other = Vars(s.Store(tmp_path))
    other.keyring_at(tmp_path / "other")
    var = other.variable("default", "app/db")
    assert var is not None and other.items(var) == {"password": "hunter2"}
    assert list(other.store.tables[s.KEYRING]) == [one.keyring.key_id]
    stored = one.store.tables[s.KEYRING][one.keyring.key_id]
    assert stored["State"] == ACTIVE and stored["Algorithm"] == "aes256-gcm"
    # nothing of it on the data dirs
    assert not (tmp_path / "one").exists() and not (tmp_path / "other").exists()
    one.store.close()
    other.store.close()


def test_two_servers_making_the_key_at_once_end_with_one(tmp_path: Path) -> None:
    first, second = _two_servers(MemoryBackend())  # neither has seen the other's write
    made = first.keyring_at(tmp_path / "a")
    late = second.keyring_at(tmp_path / "b")
    # the second committed its own, saw the older one and took its own back
    assert late.key_id == made.key_id
    assert list(dict(second.store.backend.load(s.KEYRING))) == [made.key_id]
    assert list(second.store.tables[s.KEYRING]) == [made.key_id]
    second.set_variable("default", "x", {"k": "v"})
    var = second.variable("default", "x")
    assert var is not None and first.items(var) == {"k": "v"}


def test_a_follower_makes_no_key_and_uses_the_leaders(tmp_path: Path) -> None:
    backend = MemoryBackend()
    follower = Vars(s.Store(backend), leads=False)
    with pytest.raises(NoRootKey, match="the leader makes it when it takes the lead"):
        follower.keyring_at(tmp_path)
    assert not follower.store.tables[s.KEYRING] and not dict(backend.load(s.KEYRING))
    leader = Vars(s.Store(backend))
    key_id = leader.keyring_at(tmp_path).key_id
    follower.store = s.Store(backend)  # what the store's watch would have brought it
    assert follower.keyring_at(tmp_path).key_id == key_id


# --- an older yurt's key file ----------------------------------------------------------------


def _old_key_file(data_dir: Path) -> RootKey:
    """A key as yurt before the keyring moved into the store wrote it."""
    key = RootKey.generated()
    (data_dir / "keyring").mkdir(parents=True)
    doc = {"KeyID": key.key_id, "Algorithm": "aes256-gcm", "Key": key.row(ACTIVE, 0, 0)["Key"]}
    (data_dir / "keyring" / f"{key.key_id}.json").write_text(json.dumps(doc))
    return key


def _sealed_before(ops: Vars, key: RootKey, path: str, items: dict[str, str]) -> None:
    """A variable stored by the older yurt: sealed with its data dir's key."""
    where = variable_key("default", path).encode()
    data, key_id = Keyring([key]).seal(json.dumps(items).encode(), where)
    with ops.store.write() as txn:
        row = {"Namespace": "default", "Path": path, "Data": data, "KeyID": key_id}
        txn.put(s.VARIABLE, variable_key("default", path), {**row, "ModifyIndex": txn.index})


def test_the_key_of_an_older_data_dir_is_imported_and_its_variables_open(
    tmp_path: Path,
) -> None:
    store = s.Store(tmp_path)
    ops = Vars(store)
    old = _old_key_file(tmp_path)
    _sealed_before(ops, old, "app/db", {"password": "hunter2"})
    assert ops.keyring_at(tmp_path).key_id == old.key_id  # the store had none: it is active
    var = ops.variable("default", "app/db")
    assert var is not None and ops.items(var) == {"password": "hunter2"}
    assert store.tables[s.KEYRING][old.key_id]["State"] == ACTIVE
    # the file is left where it was
    assert legacy_key(tmp_path / "keyring") == old
    store.close()
    # another server of the store, with no file, opens it too
    other = Vars(s.Store(tmp_path))
    var = other.variable("default", "app/db")
    assert var is not None
    assert other.keyring_at(tmp_path / "other").key_id == old.key_id
    assert other.items(var) == {"password": "hunter2"}


def test_an_older_key_next_to_the_stores_is_imported_inactive(tmp_path: Path) -> None:
    backend = MemoryBackend()
    leader = Vars(s.Store(backend))
    active = leader.keyring_at(tmp_path / "leader").key_id
    old = _old_key_file(tmp_path / "b")
    _sealed_before(leader, old, "app/old", {"v": "1"})
    # server b, which sealed that variable with its own data dir's key before the upgrade;
    # a follower imports its key too (only it has the file), it makes none
    b = Vars(s.Store(backend), leads=False)
    ring = b.keyring_at(tmp_path / "b")
    assert ring.key_id == active and ring.key_ids == [active, old.key_id]
    assert b.store.tables[s.KEYRING][old.key_id]["State"] == INACTIVE
    var = b.variable("default", "app/old")
    assert var is not None and b.items(var) == {"v": "1"}
    # imported once: a second use writes nothing
    index = b.store.index
    b.keyring_at(tmp_path / "b")
    assert b.store.index == index

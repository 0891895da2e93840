"""The variables' keyring of several scheduler servers on one etcd prefix: a variable sealed
through the leader opens through a follower fed by the store's watch, and two servers that
make the root key at the same moment end with one (the one whose index was taken re-reads)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.scheduler.test_keyring import Vars
from tests.support.etcd import shared_endpoint
from yurt.api.blocking import WatchHub
from yurt.cluster.role import RemoteFeed
from yurt.scheduler import store as s
from yurt.storage.etcd import EtcdBackend


async def _leader_and_follower(tmp_path: Path) -> None:
    prefix = f"/test{tmp_path}/scheduler"
    leader = Vars(s.Store(EtcdBackend([shared_endpoint()], prefix)))
    backend = EtcdBackend([shared_endpoint()], prefix)
    hub = WatchHub()
    follower = Vars(s.Store(backend, hub), leads=False)
    feed = RemoteFeed(follower.store.apply_remote)
    backend.follow(feed)
    feed.attach(asyncio.get_running_loop())
    try:
        key_id = leader.keyring_at(tmp_path / "leader").key_id  # as the leader takes the lead
        waiting = asyncio.create_task(hub.wait([s.VARIABLE], 10))
        await asyncio.sleep(0)
        leader.set_variable("default", "app/db", {"password": "hunter2"})
        assert await waiting
        var = follower.variable("default", "app/db")
        assert var is not None
        assert follower.keyring_at(tmp_path / "follower").key_id == key_id
        assert follower.items(var) == {"password": "hunter2"}
    finally:
        leader.store.close()
        follower.store.close()


def test_a_variable_sealed_through_the_leader_opens_through_a_follower(tmp_path: Path) -> None:
    asyncio.run(_leader_and_follower(tmp_path))


def test_two_servers_making_the_key_at_once_end_with_one(tmp_path: Path) -> None:
    prefix = f"/test{tmp_path}/scheduler"
    # both opened before either wrote, no watch: the second claims an index already taken
    first = Vars(s.Store(EtcdBackend([shared_endpoint()], prefix)))
    second = Vars(s.Store(EtcdBackend([shared_endpoint()], prefix)))
    try:
        made = first.keyring_at(tmp_path / "a").key_id
        assert second.keyring_at(tmp_path / "b").key_id == made
        assert list(dict(second.store.backend.load(s.KEYRING))) == [made]
        second.set_variable("default", "x", {"k": "v"})
        var = second.variable("default", "x")
        assert var is not None and first.items(var) == {"k": "v"}
    finally:
        first.store.close()
        second.store.close()

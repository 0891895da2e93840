"""A follower's memory follows the leader's commits: two scheduler stores on one etcd
prefix, one writing, the other fed by its backend's watch through `RemoteFeed` on its
event loop; rows, secondary indexes, kinds' indexes, woken waiters, the event stream."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.support.etcd import shared_endpoint
from yurt.api.blocking import WatchHub
from yurt.cluster.role import RemoteFeed
from yurt.scheduler import store as s
from yurt.scheduler.event_buffer import EventBuffer
from yurt.storage.etcd import EtcdBackend
from yurt.storage.interface import RemoteChange


def _alloc(alloc_id: str, node: str, status: str = "running") -> dict[str, object]:
    return {
        "ID": alloc_id,
        "Namespace": "default",
        "JobID": "web",
        "NodeID": node,
        "TaskGroup": "g",
        "AllocatedResources": {"Tasks": {"t": {"Cpu": {"CpuShares": 100}}}},
        "ClientStatus": status,
        "DesiredStatus": "run",
    }


async def _follow(tmp_path: Path) -> None:
    prefix = f"/test{tmp_path}/scheduler"
    leader = s.Store(EtcdBackend([shared_endpoint()], prefix))
    follower_backend = EtcdBackend([shared_endpoint()], prefix)
    hub = WatchHub()
    follower = s.Store(follower_backend, hub)
    events = EventBuffer.attach(follower)
    feed = RemoteFeed(follower.apply_remote)
    follower_backend.follow(feed)
    feed.attach(asyncio.get_running_loop())
    try:
        waiting = asyncio.create_task(hub.wait(["alloc"], 10))
        await asyncio.sleep(0)
        with leader.write() as txn:
            txn.put(s.ALLOC, "a1", {**_alloc("a1", "n1"), "ModifyIndex": txn.index})
            txn.put(s.ALLOC, "a2", {**_alloc("a2", "n1"), "ModifyIndex": txn.index})
        first = txn.index
        assert await waiting  # woken by the remote commit
        assert set(follower.tables[s.ALLOC]) == {"a1", "a2"}
        assert follower.allocs_by_node["n1"] == {"a1", "a2"}
        assert follower.table_index[s.ALLOC] == first
        assert follower.index == first

        waiting = asyncio.create_task(hub.wait(["alloc:a1"], 10))
        await asyncio.sleep(0)
        with leader.write() as txn:  # a1 moves to n2, a2 is deleted
            txn.put(s.ALLOC, "a1", {**_alloc("a1", "n2"), "ModifyIndex": txn.index})
            txn.delete(s.ALLOC, "a2")
        assert await waiting
        assert set(follower.tables[s.ALLOC]) == {"a1"}
        assert follower.allocs_by_node == {"n1": set(), "n2": {"a1"}}
        assert follower.allocs_for_job("default", "web") == [leader.tables[s.ALLOC]["a1"]]
        assert follower.table_index[s.ALLOC] == txn.index > first
        # the usage placement reads moved with the allocation
        assert (follower.usage["n1"].cpu, follower.usage["n2"].cpu) == (0, 100)

        # the event stream of the follower has both commits, at the leader's indexes
        got = [(e.index, e.topic, e.key) for batch in events.after(0) for e in batch.events]
        assert (first, "Allocation", "a1") in got
        assert (txn.index, "Allocation", "a1") in got

        # a commit applied twice (the load had it) changes nothing more
        again = RemoteChange(s.ALLOC, "a1", leader.tables[s.ALLOC]["a1"], 0)
        follower.apply_remote([again])
        assert set(follower.tables[s.ALLOC]) == {"a1"}
        assert follower.allocs_by_node["n2"] == {"a1"}
        assert follower.usage["n2"].cpu == 100
    finally:
        leader.close()
        follower.close()


def test_a_follower_store_applies_the_leaders_commits(tmp_path: Path) -> None:
    asyncio.run(_follow(tmp_path))

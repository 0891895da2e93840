"""A follower catalog's memory follows the leader's commits: two catalog stores on one
etcd prefix, one writing, the other fed through `RemoteFeed` on its loop; nodes,
services and their indexes by name and node, KV keys in order with tombstones, the topics'
indexes and the blocking readers woken."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from tests.support.etcd import shared_endpoint
from yurt.api.blocking import WatchHub
from yurt.catalog.model import Node, Service
from yurt.catalog.store import CatalogStore
from yurt.cluster.role import RemoteFeed
from yurt.storage.etcd import EtcdBackend


async def _follow(tmp_path: Path) -> None:
    prefix = f"/test{tmp_path}/catalog"
    leader = CatalogStore(EtcdBackend([shared_endpoint()], prefix), WatchHub())
    follower_backend = EtcdBackend([shared_endpoint()], prefix)
    hub = WatchHub()
    follower = CatalogStore(follower_backend, hub)
    feed = RemoteFeed(follower.apply_remote)
    follower_backend.follow(feed)
    feed.attach(asyncio.get_running_loop())
    try:
        waiting = asyncio.create_task(hub.wait(["svc:web"], 10))
        await asyncio.sleep(0)
        leader.upsert_node(Node("n1", "id-1", "10.0.0.1", "dc1"))
        leader.register_service(Service(node="n1", id="web-1", name="web", port=80), [])
        assert await waiting
        assert set(follower.nodes) == {"n1"}
        assert [s.id for s in follower.instances("web")] == ["web-1"]
        assert [s.id for s in follower.node_services("n1")] == ["web-1"]
        assert follower.topic_index("svc:web") == leader.topic_index("svc:web")
        assert follower.index == leader.index

        # one KV key's readers are woken by its row (its topic keeps no index)
        waiting = asyncio.create_task(hub.wait(["kv:b"], 10))
        await asyncio.sleep(0)
        for key in ("c", "a", "b"):
            assert leader.kv_put(key, key.encode(), 0, None)
        assert await waiting
        assert [e.key for e in follower.kv_prefix("")] == ["a", "b", "c"]
        assert follower.kv_get("b") is not None and follower.kv_get("b").value == b"b"

        waiting = asyncio.create_task(hub.wait(["kv:a"], 10))
        await asyncio.sleep(0)
        assert leader.kv_delete("a", recurse=False, cas=None)
        leader.deregister_service("n1", "web-1")
        assert await waiting
        await _until(lambda: not follower.instances("web"))
        assert [e.key for e in follower.kv_prefix("")] == ["b", "c"]
        assert follower.kv_index("a", exact=True) == leader.kv_index("a", exact=True)
        assert follower.service_names() == []
        assert follower.generation > 0
    finally:
        leader.close()
        follower.close()


async def _until(cond: Callable[[], bool]) -> None:
    for _ in range(200):
        if cond():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the follower did not catch up")


def test_a_follower_catalog_applies_the_leaders_commits(tmp_path: Path) -> None:
    asyncio.run(_follow(tmp_path))

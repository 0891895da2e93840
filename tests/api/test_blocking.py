import asyncio

import pytest

from yurt.api.blocking import BlockingQuery, WatchHub, blocking_query
from yurt.api.errors import APIError


def no_jitter(_: float) -> float:
    return 0.0


def test_query_defaults_and_caps() -> None:
    q = BlockingQuery.from_query({}, jitter=no_jitter)
    assert (q.index, q.wait_s) == (0, 300.0)
    q = BlockingQuery.from_query({"index": "7", "wait": "60000ms"}, jitter=no_jitter)
    assert (q.index, q.wait_s) == (7, 60.0)
    assert BlockingQuery.from_query({"wait": "1h"}, jitter=no_jitter).wait_s == 600.0


def test_jitter_is_at_most_a_sixteenth() -> None:
    for _ in range(50):
        q = BlockingQuery.from_query({"wait": "16s"})
        assert 16.0 <= q.wait_s <= 17.0


@pytest.mark.parametrize("query", [{"index": "x"}, {"index": "-1"}, {"wait": "10"}])
def test_bad_query_is_a_400(query: dict[str, str]) -> None:
    with pytest.raises(APIError) as info:
        BlockingQuery.from_query(query)
    assert info.value.status == 400


async def test_returns_at_once_without_index() -> None:
    hub = WatchHub()
    result, index = await blocking_query(hub, ["t"], BlockingQuery(0, 10), lambda: ("a", 0))
    assert (result, index) == ("a", 1)


async def test_wakes_when_topic_notified_and_index_moves() -> None:
    hub = WatchHub()
    state = {"index": 5}

    async def writer() -> None:
        await asyncio.sleep(0.05)
        hub.notify("other")  # a different topic does not wake the reader
        await asyncio.sleep(0.05)
        hub.notify("t")  # notified, but the index has not moved: keep waiting
        await asyncio.sleep(0.05)
        state["index"] = 6
        hub.notify("t")

    task = asyncio.create_task(writer())
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    result, index = await blocking_query(
        hub, ["t"], BlockingQuery(5, 10), lambda: (state["index"], state["index"])
    )
    await task
    assert index == 6 and result == 6
    assert 0.14 < loop.time() - t0 < 2
    assert hub.waiting() == 0


async def test_times_out_with_same_index() -> None:
    hub = WatchHub()
    _, index = await blocking_query(hub, ["t"], BlockingQuery(3, 0.1), lambda: (None, 3))
    assert index == 3
    assert hub.waiting() == 0


async def test_index_behind_the_request_answers_at_once() -> None:
    hub = WatchHub()
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    _, index = await blocking_query(hub, ["t"], BlockingQuery(100, 5), lambda: (None, 4))
    assert index == 4 and loop.time() - t0 < 1


async def test_a_thousand_waiters_wake_together() -> None:
    hub = WatchHub()
    state = {"index": 1}
    tasks = [
        asyncio.create_task(
            blocking_query(hub, ["kv"], BlockingQuery(1, 10), lambda: (None, state["index"]))
        )
        for _ in range(1000)
    ]
    await asyncio.sleep(0.05)
    assert hub.waiting() == 1000
    state["index"] = 2
    hub.notify("kv")
    results = await asyncio.wait_for(asyncio.gather(*tasks), 5)
    assert all(index == 2 for _, index in results)


async def test_closing_the_hub_answers_parked_queries_at_once() -> None:
    hub = WatchHub()
    query = BlockingQuery(index=5, wait_s=300)
    parked = asyncio.create_task(blocking_query(hub, ["jobs"], query, lambda: ("same", 5)))
    await asyncio.sleep(0.05)
    assert not parked.done()
    hub.close()
    assert await asyncio.wait_for(parked, 1) == ("same", 5)
    # and a query that arrives after the close does not park at all
    late = blocking_query(hub, ["jobs"], query, lambda: ("same", 5))
    assert await asyncio.wait_for(late, 1) == ("same", 5)

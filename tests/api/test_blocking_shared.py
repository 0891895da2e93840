"""Readers woken by one write share one encoded answer per read (`WatchHub.shared`,
`blocking_encoded`): the read runs once for all of them, and any later write drops it."""

import asyncio

from yurt.api.blocking import BlockingQuery, WatchHub, blocking_encoded


class Store:
    """A stand-in store: one value, its index, and a count of the reads run."""

    def __init__(self) -> None:
        self.index = 5
        self.reads = 0

    def read(self) -> tuple[bytes, int]:
        self.reads += 1
        return f'{{"v": {self.index}}}'.encode(), self.index


def test_shared_runs_once_per_key_until_notified() -> None:
    hub, store = WatchHub(), Store()
    first = hub.shared("a", store.read)
    assert hub.shared("a", store.read) is first
    assert store.reads == 1
    hub.shared("b", store.read)
    assert store.reads == 2
    hub.notify("anything")  # every write drops the shared answers, whatever its topic
    store.index = 6
    assert hub.shared("a", store.read) == (b'{"v": 6}', 6)
    assert store.reads == 3


def test_shared_answers_are_bounded() -> None:
    hub, store = WatchHub(), Store()
    for i in range(WatchHub.MAX_SHARED + 10):
        hub.shared(i, store.read)
    assert len(hub._shared) <= WatchHub.MAX_SHARED


async def test_woken_readers_share_one_read() -> None:
    hub, store = WatchHub(), Store()
    readers = 200
    query = BlockingQuery(index=5, wait_s=10)
    tasks = [
        asyncio.create_task(blocking_encoded(hub, ["t"], query, "key", store.read))
        for _ in range(readers)
    ]
    while hub.waiting() < readers:
        await asyncio.sleep(0)
    assert store.reads == readers  # each reader's own first read, before it parked
    store.index = 6
    hub.notify("t")
    answers = await asyncio.gather(*tasks)
    assert answers == [(b'{"v": 6}', 6)] * readers
    assert store.reads == readers + 1  # one read for all the woken ones
    assert len({id(body) for body, _ in answers}) == 1


async def test_first_read_is_never_shared() -> None:
    """A reader arriving after a write but before the next notification reads the store
    itself: a shared answer serves only readers that parked."""
    hub, store = WatchHub(), Store()
    hub.shared("key", store.read)  # an answer at index 5 in the shared table
    store.index = 7  # a change not yet notified
    body, index = await blocking_encoded(hub, ["t"], BlockingQuery(0, 10), "key", store.read)
    assert (body, index) == (b'{"v": 7}', 7)


async def test_wait_times_out_and_leaves_nothing_parked() -> None:
    hub = WatchHub()
    assert await hub.wait(["a", "b"], 0.01) is False
    assert hub.waiting() == 0


async def test_cancelled_reader_leaves_nothing_parked() -> None:
    hub = WatchHub()
    task = asyncio.create_task(hub.wait(["a", "b"], 10))
    while hub.waiting() < 2:
        await asyncio.sleep(0)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert hub.waiting() == 0
    hub.notify("a", "b")  # nothing left to wake, nothing raised

"""The one blocking-query loop: Consul's index rules by table, and the loop's retries."""

from __future__ import annotations

import asyncio

import pytest

from yurt.consul_api.backoff import Backoff
from yurt.consul_api.errors import ConsulAPIError, ConsulUnreachable
from yurt.consul_api.watch import next_index, watch


@pytest.mark.parametrize(
    ("previous", "answered", "want"),
    [
        (0, 0, 1),  # an index of 0 is taken as 1, or every read would return at once
        (0, 7, 7),  # the first read
        (7, 7, 7),  # a wait that timed out: block again on the same index
        (7, 9, 9),  # a change
        (9, 3, 0),  # backwards (a restored or restarted catalog): start over
        (9, 0, 0),  # backwards to 0: start over too
        (1, 0, 0),
    ],
)
def test_next_index(previous: int, answered: int, want: int) -> None:
    assert next_index(previous, answered) == want


async def test_watch_retries_with_backoff_and_resets_the_index() -> None:
    # What each read answers: an index, or an error the loop must retry.
    script: list[int | Exception] = [
        5,
        ConsulUnreachable("GET", "/v1/x", "http://127.0.0.1:1", "refused"),
        ConsulAPIError("GET", "/v1/x", 500, "rpc error"),
        8,
        3,  # went backwards
        4,
    ]
    asked: list[int] = []
    waits: list[float] = []
    done = asyncio.Event()

    async def step(index: int) -> int:
        asked.append(index)
        if not script:
            done.set()
            await asyncio.Event().wait()  # parked like a blocking read
        item = script.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    def rand() -> float:
        waits.append(0.0)
        return 0.0

    task = asyncio.create_task(watch("test", step, Backoff(initial=0.01, cap=0.02, rand=rand)))
    await asyncio.wait_for(done.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # 0 first; the two failures re-ask with the same index; after 8 came 3: start over at 0.
    assert asked == [0, 5, 5, 5, 8, 0, 4]
    assert len(waits) == 2  # one backoff per failure


async def test_watch_ends_on_an_error_it_does_not_retry() -> None:
    async def step(index: int) -> int:
        raise KeyError("a bug, not the catalog's absence")

    with pytest.raises(KeyError):
        await asyncio.wait_for(watch("test", step, Backoff(initial=0.01)), 5)

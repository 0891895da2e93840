"""How a parked blocking query ends: on a change, on its wait, and when its server stops.

Both APIs park through `wait_until` on a `WatchHub`, and both servers close the hub as their
site shuts down (`close_on_shutdown`): a parked read then answers at once with what it has,
instead of holding the shutdown for its `?wait=` or being cut off without an answer.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
from aiohttp import web

from yurt.api.blocking import BlockingQuery, WatchHub, blocking_query, wait_until
from yurt.api.http import SHUTDOWN_GRACE, close_on_shutdown, start_site


@pytest.mark.parametrize(
    ("answers", "wait_s", "notify", "want", "runs"),
    [
        # done at once: the first answer, no parking
        (["new"], 5.0, False, "new", 1),
        # not done, the wait runs out: the last answer
        (["old", "old"], 0.05, False, "old", 2),
        # not done, then a change wakes the reader and it is done
        (["old", "new"], 5.0, True, "new", 2),
        # woken by a change that leaves it not done: parks again until the wait runs out
        (["old"], 0.3, True, "old", 3),
    ],
)
async def test_wait_until_ends_on_done_or_timeout(
    answers: list[str], wait_s: float, notify: bool, want: str, runs: int
) -> None:
    hub = WatchHub()
    calls: list[str] = []

    def run() -> str:
        calls.append(answers[min(len(calls), len(answers) - 1)])
        return calls[-1]

    async def change() -> None:
        await asyncio.sleep(0.05)
        hub.notify("t")

    writer = asyncio.create_task(change()) if notify else None
    got = await asyncio.wait_for(wait_until(hub, ["t"], wait_s, run, lambda a: a == "new"), 2)
    if writer is not None:
        await writer
    assert (got, len(calls)) == (want, runs)
    assert hub.waiting() == 0


async def test_a_closed_hub_ends_wait_until_with_the_current_answer() -> None:
    hub = WatchHub()
    parked = asyncio.create_task(wait_until(hub, ["t"], 300, lambda: "same", lambda a: False))
    await asyncio.sleep(0.05)
    assert not parked.done()
    hub.close()
    assert await asyncio.wait_for(parked, 1) == "same"


async def test_a_parked_query_answers_promptly_when_its_server_stops() -> None:
    hub = WatchHub()
    runs = 0

    def run() -> tuple[str, int]:
        nonlocal runs
        runs += 1
        return "unchanged", 7

    async def read(request: web.Request) -> web.Response:
        result, index = await blocking_query(
            hub, ["t"], BlockingQuery.from_query(request.query), run
        )
        return web.Response(text=result, headers={"X-Index": str(index)})

    app = web.Application()
    app.router.add_get("/read", read)
    close_on_shutdown(app, hub)
    runner = await start_site(app, "127.0.0.1", 0)
    port = runner.addresses[0][1]
    async with aiohttp.ClientSession() as http:

        async def parked() -> tuple[int, str, str]:
            async with http.get(f"http://127.0.0.1:{port}/read?index=7&wait=5m") as r:
                return r.status, await r.text(), r.headers["X-Index"]

        reader = asyncio.create_task(parked())
        await asyncio.sleep(0.2)
        assert not reader.done() and hub.waiting() == 1
        start = time.monotonic()
        await runner.cleanup()
        answered = await asyncio.wait_for(reader, 5)
        took = time.monotonic() - start
    # answered, not cut off after the grace period: the same answer, run once more on wake
    assert answered == (200, "unchanged", "7")
    assert took < SHUTDOWN_GRACE
    assert runs == 2
    assert hub.closed and hub.waiting() == 0

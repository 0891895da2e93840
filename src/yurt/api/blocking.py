"""Blocking queries, shared by the Consul-compatible and Nomad-compatible APIs.

A read with `?index=N` returns as soon as its answer's index is above N, or after `?wait=`
(default 5 minutes, at most 10, plus up to wait/16 of jitter, as both products do). Writers
call `WatchHub.notify(topic, ...)`; a waiting reader holds a future per topic and costs no CPU
until one of its topics is notified. Nothing polls.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from itertools import repeat
from typing import TypeVar

from yurt.api.durations import SECOND, parse_go_duration
from yurt.api.errors import APIError

T = TypeVar("T")

log = logging.getLogger(__name__)

DEFAULT_WAIT_S = 300.0
MAX_WAIT_S = 600.0


class WatchHub:
    """Wakes the readers waiting on a topic (a table, a key prefix, a job...) when it changes.

    It also keeps the encoded answers of woken readers (`shared`): the first reader a write
    wakes runs the read and encodes it, the others of the same read send the same bytes.
    Every notification drops them, so an answer is never older than the last write."""

    MAX_SHARED = 1024

    def __init__(self) -> None:
        self._waiters: dict[str, set[asyncio.Future[bool]]] = {}
        # what a parked reader sends by itself when woken (`wait(early=)`)
        self._early: dict[asyncio.Future[bool], Callable[[], None]] = {}
        self._closed = False
        self._shared: dict[Hashable, tuple[bytes, int]] = {}

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Wake every parked reader now and from then on: the server is stopping, so
        blocking queries answer with what they have instead of holding the shutdown."""
        self._closed = True
        for waiters in self._waiters.values():
            for fut in waiters:
                if not fut.done():
                    fut.set_result(True)
        self._waiters.clear()

    def notify(self, *topics: str) -> None:
        self._shared.clear()
        woken: dict[asyncio.Future[bool], None] = {}
        for topic in topics:
            waiters = self._waiters.pop(topic, None)
            if waiters:
                woken.update(dict.fromkeys(fut for fut in waiters if not fut.done()))
        if not woken:
            return
        early = [e for e in map(self._early.pop, woken, repeat(None)) if e is not None]
        if early:
            # Queued before the readers' tasks are: every woken reader that can send its
            # answer itself does, back to back, before the first task resumes
            # (`yurt.api.woken_answer`).
            next(iter(woken)).get_loop().call_soon(_send_early, early)
        for fut in woken:
            fut.set_result(True)

    async def wait(
        self, topics: Iterable[str], timeout: float, early: Callable[[], None] | None = None
    ) -> bool:
        """Wait until any of `topics` is notified (True) or `timeout` passes (False).

        One bare future and one timer per reader: a write that wakes a thousand readers
        then costs one callback each (`wait_for` over `shield` cost three futures, a task
        and several loop turns per reader). `early`, when a notification wakes the
        reader, runs before any woken reader's task does."""
        if self._closed:
            return True
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[bool] = loop.create_future()
        names = list(topics)
        for topic in names:
            self._waiters.setdefault(topic, set()).add(fut)
        if early is not None:
            self._early[fut] = early
        timer = loop.call_later(timeout, _expire, fut)
        try:
            return await fut
        finally:
            timer.cancel()
            self._early.pop(fut, None)
            for topic in names:
                waiters = self._waiters.get(topic)
                if waiters is not None:
                    waiters.discard(fut)
                    if not waiters:
                        del self._waiters[topic]

    def shared(self, key: Hashable, run: Callable[[], tuple[bytes, int]]) -> tuple[bytes, int]:
        """The encoded answer of read `key` since the last notification (`run` makes it)."""
        hit = self._shared.get(key)
        if hit is None:
            if len(self._shared) >= self.MAX_SHARED:
                self._shared.clear()
            hit = self._shared[key] = run()
        return hit

    def waiting(self) -> int:
        """How many (reader, topic) pairs are parked; for metrics and tests."""
        return sum(len(w) for w in self._waiters.values())


def _send_early(early: list[Callable[[], None]]) -> None:
    for send in early:
        try:
            send()
        except Exception:  # its task runs the read again and answers (or fails) as usual
            log.debug("a woken reader's early answer failed", exc_info=True)


def _expire(fut: asyncio.Future[bool]) -> None:
    if not fut.done():
        fut.set_result(False)


@dataclass(frozen=True)
class BlockingQuery:
    """The `index` and `wait` of a read; `wait_s` already includes the jitter."""

    index: int = 0
    wait_s: float = DEFAULT_WAIT_S

    @classmethod
    def from_query(
        cls,
        query: Mapping[str, str],
        *,
        jitter: Callable[[float], float] | None = None,
    ) -> BlockingQuery:
        raw_index = query.get("index", "")
        index = 0
        if raw_index:
            try:
                index = int(raw_index)
            except ValueError:
                raise APIError.bad_request(
                    f"Invalid index: {raw_index!r} is not a non-negative integer"
                ) from None
            if index < 0:
                raise APIError.bad_request(f"Invalid index: {raw_index!r} is negative")
        wait_s = DEFAULT_WAIT_S
        raw_wait = query.get("wait", "")
        if raw_wait:
            try:
                wait_ns = parse_go_duration(raw_wait)
            except ValueError as exc:
                raise APIError.bad_request(f"Invalid wait time: {exc}") from None
            if wait_ns < 0:
                raise APIError.bad_request(f"Invalid wait time: {raw_wait!r} is negative")
            wait_s = wait_ns / SECOND
        wait_s = min(wait_s, MAX_WAIT_S)
        spread = jitter if jitter is not None else _jitter
        return cls(index=index, wait_s=wait_s + spread(wait_s))


def _jitter(wait_s: float) -> float:
    return random.uniform(0, wait_s / 16)


async def wait_until(
    hub: WatchHub,
    topics: Iterable[str],
    wait_s: float,
    run: Callable[[], T],
    done: Callable[[T], bool],
    send: Callable[[T], bool] | None = None,
) -> T:
    """Run `run` until `done` holds for its answer, and answer with it; or with the last
    answer once `wait_s` passes or the hub closes (the server is stopping).

    This is the one place that decides how a parked read ends: every blocking read of both
    APIs (index-based or, as Consul's agent offers, hash-based) waits through it. `run` is
    synchronous, so no write can slip in between running it and parking on the hub: a
    wake-up is never lost.

    With `send`, a notification runs the read and hands a done answer to `send` before the
    reader's task resumes (`yurt.api.woken_answer`); once `send` took it (True), that
    answer is the one returned.
    """
    topic_list = list(topics)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    sent: list[T] = []
    parked = False

    def early() -> None:
        # Only while parked: once the task has resumed it answers by itself, and an early
        # answer then would be a second response on the connection.
        if not parked:
            return
        assert send is not None
        answer = run()
        if done(answer) and send(answer):
            sent.append(answer)

    while True:
        answer = run()
        if done(answer):
            return answer
        remaining = deadline - loop.time()
        if remaining <= 0 or hub.closed:
            return answer
        # a parked reader holds no answer (the next run makes the one it sends): answers
        # of whole-catalog reads are megabytes, and readers park across generations
        del answer
        parked = True
        try:
            await hub.wait(topic_list, remaining, early if send is not None else None)
        finally:
            parked = False
        if sent:
            return sent[0]


async def blocking_query(
    hub: WatchHub,
    topics: Iterable[str],
    query: BlockingQuery,
    run: Callable[[], tuple[T, int]],
    send: Callable[[tuple[T, int]], bool] | None = None,
) -> tuple[T, int]:
    """Run `run` (which returns the answer and its index) until the index moves past
    `query.index` or the wait runs out. The index answered is never below 1. `send` as
    `wait_until`'s."""

    def indexed() -> tuple[T, int]:
        result, index = run()
        return result, max(index, 1)

    return await wait_until(hub, topics, query.wait_s, indexed, _moved(query), send)


async def blocking_encoded(
    hub: WatchHub,
    topics: Iterable[str],
    query: BlockingQuery,
    key: Hashable,
    run: Callable[[], tuple[bytes, int]],
    send: Callable[[tuple[bytes, int]], bool] | None = None,
) -> tuple[bytes, int]:
    """`blocking_query` for a read whose answer is its encoded bytes, `key` naming the read
    (path, parameters, token). The first run is the read's own; once parked, the reader
    takes the answer woken readers of the same `key` share (`WatchHub.shared`): one write
    waking a thousand readers runs and encodes the read once, not a thousand times."""
    first = True

    def indexed() -> tuple[bytes, int]:
        nonlocal first
        if first:
            first = False
            body, index = run()
        else:
            body, index = hub.shared(key, run)
        return body, max(index, 1)

    return await wait_until(hub, topics, query.wait_s, indexed, _moved(query), send)


def _moved(query: BlockingQuery) -> Callable[[tuple[T, int]], bool]:

    def moved(answer: tuple[T, int]) -> bool:
        # An index below the one asked for means the store was reset: answer at once so
        # the caller starts over, as Consul's clients expect.
        return query.index == 0 or answer[1] != query.index

    return moved

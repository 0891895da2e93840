"""The eval broker: pending evaluations, highest priority first, oldest first within a
priority; delayed ones (`WaitUntil`) wait on a timer rather than in the queue."""

from __future__ import annotations

import asyncio
import heapq
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from yurt.scheduler.structs import Evaluation


class EvalBroker:
    def __init__(self) -> None:
        self._heap: list[tuple[int, int, str]] = []
        self._queued: set[str] = set()
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._ready = asyncio.Event()

    def enqueue(self, ev: Evaluation) -> None:
        eval_id = ev["ID"]
        if eval_id in self._queued or eval_id in self._timers:
            return
        wait_ns = int(ev.get("WaitUntilNs") or 0) - time.time_ns()
        if wait_ns > 0:
            loop = asyncio.get_running_loop()
            self._timers[eval_id] = loop.call_later(wait_ns / 1e9, self._release, ev)
            return
        self._push(ev)

    def _release(self, ev: Evaluation) -> None:
        self._timers.pop(ev["ID"], None)
        self._push(ev)

    def _push(self, ev: Evaluation) -> None:
        heapq.heappush(
            self._heap, (-int(ev.get("Priority") or 50), int(ev["CreateIndex"]), ev["ID"])
        )
        self._queued.add(ev["ID"])
        self._ready.set()

    async def dequeue(self) -> str:
        while not self._heap:
            self._ready.clear()
            await self._ready.wait()
        _, _, eval_id = heapq.heappop(self._heap)
        self._queued.discard(eval_id)
        return eval_id

    def stats(self) -> dict[str, int]:
        return {"TotalReady": len(self._heap), "TotalWaiting": len(self._timers)}

    def clear(self) -> None:
        """Forget every evaluation (a leader stepping down: the next leader has them)."""
        self.close()
        self._heap.clear()
        self._queued.clear()

    def close(self) -> None:
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()

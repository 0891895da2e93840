"""Node heartbeat timers: a node that is not heard from within its TTL (plus a grace
period) is marked down. One timer handle per node; nothing polls."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class Heartbeats:
    def __init__(self, ttl_s: float, grace_s: float, on_expire: Callable[[str], None]) -> None:
        self.ttl_s = ttl_s
        self.grace_s = grace_s
        self._on_expire = on_expire
        self._timers: dict[str, asyncio.TimerHandle] = {}

    def reset(self, node_id: str) -> None:
        old = self._timers.pop(node_id, None)
        if old is not None:
            old.cancel()
        loop = asyncio.get_running_loop()
        self._timers[node_id] = loop.call_later(self.ttl_s + self.grace_s, self._expire, node_id)

    def _expire(self, node_id: str) -> None:
        self._timers.pop(node_id, None)
        self._on_expire(node_id)

    def tracked(self) -> int:
        return len(self._timers)

    def close(self) -> None:
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()

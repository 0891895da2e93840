"""Session TTLs: a session not renewed within twice its TTL is invalidated, as Consul does.

The timers live in memory; after a restart every stored session with a TTL gets a full
period again, as a new Consul leader resets them.
"""

from __future__ import annotations

import asyncio
import logging

from yurt.api.durations import SECOND, parse_go_duration
from yurt.catalog.model import Session
from yurt.catalog.store import CatalogStore

log = logging.getLogger(__name__)

# Consul invalidates a session only after TTL * 2, to allow for clock skew and renew latency.
TTL_MULTIPLIER = 2


class SessionTimers:
    def __init__(self, store: CatalogStore) -> None:
        self.store = store
        self._timers: dict[str, asyncio.TimerHandle] = {}

    def arm(self, session: Session) -> None:
        """Start (or restart, on renew) the session's TTL."""
        self.cancel(session.id)
        if not session.ttl:
            return
        delay = parse_go_duration(session.ttl) * TTL_MULTIPLIER / SECOND
        self._timers[session.id] = asyncio.get_running_loop().call_later(
            delay, self._expire, session.id
        )

    def cancel(self, session_id: str) -> None:
        timer = self._timers.pop(session_id, None)
        if timer is not None:
            timer.cancel()

    def _expire(self, session_id: str) -> None:
        self._timers.pop(session_id, None)
        if self.store.session_destroy(session_id) is not None:
            log.info("session %s: TTL expired, invalidated", session_id)

    def close(self) -> None:
        for sid in list(self._timers):
            self.cancel(sid)

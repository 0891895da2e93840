"""Bounds on what one client can hold on a proxy listener: the size of a request head, how
long a connection may take over each part of an exchange, how many connections one address
may keep open.

The numbers are Go's `net/http` server's where Fabio inherits them (1 MB of request head,
`proxy.readtimeout`, `proxy.writetimeout`, the listener's `rt=`/`wt=`), with yurt's own
defaults where Fabio sets none (a header-read and a keep-alive idle timeout, so that a
slowloris or an idle client does not keep a descriptor for ever). docs/router.md, Limits.

Timeouts are enforced by one sweeper per listener that looks at its connections a few times
per shortest timeout, rather than by a timer per request: the data path only notes the time
a phase began, which keeps the per-request cost to a clock read.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Protocol

# Go's http.DefaultMaxHeaderBytes, and the 4096 bytes its reader may take beyond it.
MAX_HEADER_BYTES = 1 << 20
HEADER_SLACK = 4096
# Go counts bytes only. Each header line costs the data path a Python tuple of two byte
# strings (~150 bytes), so 1 MB of tiny lines would cost tens of MB: yurt caps the count as
# Node.js does (its default is 2000; 1000 leaves far more than any browser or client sends).
MAX_HEADER_COUNT = 1000
# A request target longer than this is refused with 414: routes, the route cache and the
# access log all hold the path; Go takes up to the whole 1 MB head, nginx 8 KB.
MAX_URL_BYTES = 64 * 1024
# An upstream's response head (Go's Transport.MaxResponseHeaderBytes default, 10 MB).
MAX_RESPONSE_HEADER_BYTES = 10 << 20

DEFAULT_HEADER_TIMEOUT = 10.0  # yurt: proxy.readheadertimeout
DEFAULT_IDLE_TIMEOUT = 60.0  # yurt: proxy.idletimeout

# Nomad's text for a client over its http_max_conns_per_client.
TOO_MANY_CONNS = (
    b"Your IP is issuing too many concurrent connections, please rate limit your calls\n"
)


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds; 0 is no limit. As Go's http.Server: `read` bounds the whole request (head
    and body) from its first byte, `header` its head, `write` the exchange from the end of
    the head to the end of the response, `idle` the wait for the next request on a
    keep-alive connection. `header` and `idle` fall back to `read` when 0, as Go's do."""

    header: float = DEFAULT_HEADER_TIMEOUT
    read: float = 0.0
    write: float = 0.0
    idle: float = DEFAULT_IDLE_TIMEOUT

    def effective(self) -> Timeouts:
        """With Go's fallbacks applied: a 0 header or idle timeout takes the read timeout."""
        return Timeouts(
            header=self.header or self.read,
            read=self.read,
            write=self.write,
            idle=self.idle or self.read,
        )

    def handshake(self) -> float | None:
        """The TLS handshake's timeout: the shortest of the header, read and write timeouts,
        as Go's server takes it; None (the event loop's 60 s) when none is set."""
        return min((t for t in (self.header, self.read, self.write) if t > 0), default=None)

    def tick(self) -> float:
        """How often a sweeper looks: a quarter of the shortest timeout, within [50 ms, 1 s];
        0 when there is nothing to enforce."""
        limits = (self.header, self.read, self.write, self.idle)
        shortest = min((t for t in limits if t > 0), default=0.0)
        if shortest <= 0:
            return 0.0
        return min(max(shortest / 4, 0.05), 1.0)


# A connection's phases, as the sweeper sees them.
HEAD = 0  # waiting for (the rest of) a request head
BUSY = 1  # a request is being read, sent or answered
IDLE = 2  # between requests of a keep-alive connection, nothing of the next one read yet
TUNNEL = 3  # a WebSocket or other upgraded connection: bytes both ways, no timeouts


def expired(
    t: Timeouts, phase: int, since: float, request_since: float, request_done: bool, now: float
) -> str:
    """Which timeout a connection has run out of ("" for none). `since` is when its phase
    began (for BUSY: when the head was complete), `request_since` when the request's first
    byte came, `request_done` whether the whole request has been read."""
    if phase == HEAD:
        if t.header and now - since > t.header:
            return "header"
        if t.read and now - since > t.read:
            return "read"
    elif phase == BUSY:
        if t.write and now - since > t.write:
            return "write"
        if t.read and not request_done and now - request_since > t.read:
            return "read"
    elif phase == IDLE and t.idle and now - since > t.idle:
        return "idle"
    return ""


class Swept(Protocol):
    """A connection a sweeper watches."""

    def check_timeouts(self, t: Timeouts, now: float) -> None: ...


class Sweeper:
    """Looks at a listener's open connections every `tick` and lets each close itself when it
    has run out of time. Connections add and remove themselves (`conns`)."""

    def __init__(self, timeouts: Timeouts) -> None:
        self.timeouts = timeouts.effective()
        self.conns: set[Swept] = set()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.timeouts.tick() > 0 and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _run(self) -> None:
        tick = self.timeouts.tick()
        while True:
            await asyncio.sleep(tick)
            self.sweep(time.monotonic())

    def sweep(self, now: float) -> None:
        t = self.timeouts
        for conn in list(self.conns):
            conn.check_timeouts(t, now)


class ClientCounter:
    """Open connections per client address, with a cap (0: none). `admit` is called when a
    connection opens and `release` when it closes; a refused one is never counted."""

    __slots__ = ("counts", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.counts: dict[str, int] = {}

    def admit(self, ip: str) -> bool:
        n = self.counts.get(ip, 0)
        if self.limit and n >= self.limit:
            return False
        self.counts[ip] = n + 1
        return True

    def release(self, ip: str) -> None:
        n = self.counts.get(ip, 0) - 1
        if n > 0:
            self.counts[ip] = n
        else:
            self.counts.pop(ip, None)

"""Bounds on what a client can hold on an API listener (catalog, scheduler, client, router UI):
how long it may take to send a request head, how long a keep-alive connection may sit idle,
how long a TLS handshake may take, how many connections one address may keep open, how large
a request head may be, and how many descriptors the whole process keeps in reserve.

The names and defaults are Nomad's and Consul's `limits { }` where they have them
(`http_max_conns_per_client`, `https_handshake_timeout`) and Go's `net/http` where they
inherit them (a request head of about 1 MB, answered 431 above it); the header-read and idle
timeouts are yurt's own keys, with the router's defaults.
docs/security.md, Limits.

Only the time before a complete request head and the idle time between requests count: a
blocking query parked for ten minutes, a followed log or an `alloc exec` WebSocket is a
request in progress and is never cut.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import ssl
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

from aiohttp import web
from aiohttp.http_exceptions import BadHttpMessage, LineTooLong
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from yurt.api.durations import parse_go_duration

log = logging.getLogger(__name__)

DEFAULT_HEADER_TIMEOUT = 10.0
DEFAULT_IDLE_TIMEOUT = 60.0
# Nomad's and Consul's https_handshake_timeout.
DEFAULT_HANDSHAKE_TIMEOUT = 5.0
NOMAD_MAX_CONNS_PER_CLIENT = 100
CONSUL_MAX_CONNS_PER_CLIENT = 200
# aiohttp's parser bounds each line and the count of header lines rather than the whole head:
# 128 lines of 8,190 bytes come to about Go's 1 MB MaxHeaderBytes.
MAX_LINE_SIZE = 8190
MAX_FIELD_SIZE = 8190
MAX_HEADERS = 128
# aiohttp takes 0 as "close at once", not "never": "never" is a very long time.
_NEVER = 365 * 24 * 3600.0

# Consul's (go-connlimit's) answer to a client over its cap, checked against consul 1.10.
TOO_MANY_CONNS = "Your IP is issuing too many concurrent connections, please rate limit your calls"


@dataclass(frozen=True, slots=True)
class HTTPLimits:
    """Seconds and counts; 0 is no limit. `answer_429`: a client over `max_conns_per_client`
    gets Consul's 429 before the close; without it the connection is only closed, as Nomad
    does (both checked against the real binaries)."""

    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT
    handshake_timeout: float = DEFAULT_HANDSHAKE_TIMEOUT
    max_conns_per_client: int = NOMAD_MAX_CONNS_PER_CLIENT
    answer_429: bool = True
    max_line_size: int = MAX_LINE_SIZE
    max_field_size: int = MAX_FIELD_SIZE
    max_headers: int = MAX_HEADERS
    # Where the cap is set, for the text of a refusal.
    setting: str = "limits { http_max_conns_per_client }"

    def handler_args(self) -> dict[str, Any]:
        """aiohttp's RequestHandler arguments that carry these limits."""
        return {
            "keepalive_timeout": self.idle_timeout or _NEVER,
            "max_line_size": self.max_line_size,
            "max_field_size": self.max_field_size,
            "max_headers": self.max_headers,
        }


def nomad_limits(**changes: Any) -> HTTPLimits:
    """Nomad's defaults: 100 connections per client, closed above it without an answer."""
    return replace(
        HTTPLimits(max_conns_per_client=NOMAD_MAX_CONNS_PER_CLIENT, answer_429=False), **changes
    )


def consul_limits(**changes: Any) -> HTTPLimits:
    """Consul's defaults: 200 connections per client, a 429 above it."""
    return replace(
        HTTPLimits(max_conns_per_client=CONSUL_MAX_CONNS_PER_CLIENT, answer_429=True), **changes
    )


# The keys of Nomad's and Consul's `limits { }` that the API listeners honour (with the
# value's kind), then yurt's own two timeouts, which the products' configs do not have.
LIMIT_KEYS: dict[str, type] = {
    "http_max_conns_per_client": int,
    "https_handshake_timeout": str,
    "http_read_header_timeout": str,
    "http_idle_timeout": str,
}
_DURATION_FIELDS = {
    "https_handshake_timeout": "handshake_timeout",
    "http_read_header_timeout": "header_timeout",
    "http_idle_timeout": "idle_timeout",
}


def apply_limit(limits: HTTPLimits, key: str, value: Any) -> HTTPLimits:
    """`limits` with one key of a `limits { }` block applied; ValueError says what is wrong
    with the value (the caller knows where it is). 0 turns a limit off, as in Nomad."""
    if key == "http_max_conns_per_client":
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"expected a number of connections (0 for no limit), got {value!r}")
        return replace(limits, max_conns_per_client=value)
    name = _DURATION_FIELDS.get(key)
    if name is None:
        raise ValueError(f'unknown key "{key}"')
    if not isinstance(value, str):
        raise ValueError(f'expected a duration such as "5s", got {value!r}')
    ns = parse_go_duration(value)
    if ns < 0:
        raise ValueError(f'expected a duration of 0 or more, got "{value}"')
    seconds = ns / 1e9
    if name == "handshake_timeout":
        return replace(limits, handshake_timeout=seconds)
    if name == "header_timeout":
        return replace(limits, header_timeout=seconds)
    return replace(limits, idle_timeout=seconds)


def reserve_for(soft_limit: int) -> int:
    """Descriptors the API listeners leave free for everything else (the stores, task
    pipes, the client's heartbeats, outgoing calls): an eighth of the soft limit, at least
    64. With the common 1,024 that is 128; raised to 20,000 it is 2,500."""
    return max(64, soft_limit // 8)


class DescriptorBudget:
    """The process's open API connections against its soft RLIMIT_NOFILE, shared by every
    bounded listener. Descriptors in use are counted two ways: the listeners' own count,
    and the new connection's descriptor number (descriptors are allocated lowest first, so
    descriptor N means at least N are in use, whoever holds them).

    A listener that already holds `quiet_share` connections (a flooded one) is refused once
    fewer than `reserve` descriptors would be left; a quiet listener may still go on to the
    `floor`, so that a flood on one port never stops the others, and the last `floor`
    descriptors stay for the stores, tasks and outgoing calls such as heartbeats."""

    __slots__ = ("burst", "floor", "open", "reserve", "soft_limit")

    def __init__(self, soft_limit: int, reserve: int | None = None) -> None:
        self.open = 0
        self.soft_limit = soft_limit
        self.reserve = reserve_for(soft_limit) if reserve is None else reserve
        self.floor = self.reserve // 4
        self.burst = Burst()

    @property
    def ceiling(self) -> int:
        return self.soft_limit - self.reserve

    @property
    def quiet_share(self) -> int:
        return self.floor

    def refresh(self) -> None:
        """Re-read the soft limit (it is raised at start, after this may have been made)."""
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        if soft == resource.RLIM_INFINITY:
            soft = 1 << 20
        self.soft_limit = soft
        self.reserve = reserve_for(soft)
        self.floor = self.reserve // 4

    def admit(self, fd: int, held: int = 0) -> bool:
        """Whether a new connection with descriptor `fd` fits, on a listener that holds
        `held` connections already."""
        limit = self.soft_limit - (self.reserve if held >= self.quiet_share else self.floor)
        if self.open >= limit or fd >= limit:
            return False
        self.open += 1
        return True

    def release(self) -> None:
        self.open = max(0, self.open - 1)


class Burst:
    """Refusals of one kind, logged once per burst: a flood must not become a flood of log
    lines."""

    __slots__ = ("_end",)

    QUIET = 10.0

    def __init__(self) -> None:
        self._end = 0.0

    def note(self, now: float) -> bool:
        """True when this refusal starts a burst (none in the last QUIET seconds)."""
        starts = now >= self._end
        self._end = now + self.QUIET
        return starts


_BUDGET: DescriptorBudget | None = None


def process_budget() -> DescriptorBudget:
    global _BUDGET
    if _BUDGET is None:
        _BUDGET = DescriptorBudget(1024)
    _BUDGET.refresh()
    return _BUDGET


# Why a connection was refused (`ConnectionTracker.admit`).
ADMITTED = ""
OVER_CLIENT_CAP = "client"
OVER_RESERVE = "reserve"


class ConnectionTracker:
    """One listener's open connections per client address, with the cap of its limits, and
    the process's descriptor budget. `admit` when a connection opens, `release` when an
    admitted one closes; a refused one is never counted."""

    __slots__ = ("budget", "burst", "counts", "limit", "name", "total")

    def __init__(self, limit: int, budget: DescriptorBudget, name: str = "") -> None:
        self.name = name or "a listener"
        self.limit = limit
        self.budget = budget
        self.counts: dict[str, int] = {}
        self.total = 0
        self.burst = Burst()

    def admit(self, ip: str, fd: int) -> str:
        n = self.counts.get(ip, 0)
        if self.limit and n >= self.limit:
            return OVER_CLIENT_CAP
        if not self.budget.admit(fd, self.total):
            return OVER_RESERVE
        self.counts[ip] = n + 1
        self.total += 1
        return ADMITTED

    def release(self, ip: str) -> None:
        self.budget.release()
        self.total -= 1
        n = self.counts.get(ip, 0) - 1
        if n > 0:
            self.counts[ip] = n
        else:
            self.counts.pop(ip, None)


def too_many_conns_response(ip: str, limits: HTTPLimits) -> bytes:
    body = (
        f"{TOO_MANY_CONNS}\n"
        f"yurt: more than {limits.max_conns_per_client} open connections from {ip}; "
        f"raise {limits.setting} to allow more\n"
    ).encode()
    head = (
        "HTTP/1.1 429 Too Many Requests\r\nContent-Type: text/plain\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    return head + body


def head_too_large(exc: BaseException | None) -> bool:
    """Whether aiohttp's parser refused a head for its size (Go answers those 431)."""
    if isinstance(exc, LineTooLong):
        return True
    return isinstance(exc, BadHttpMessage) and "Too many headers" in str(exc)


class BoundedRequestHandler(RequestHandler):
    """aiohttp's connection handler with the header-read timeout, the per-client cap and the
    descriptor reserve. aiohttp's own keep-alive timer (its `keepalive_timeout`, our idle
    timeout) closes a connection that sends nothing after a response; from the first byte
    of a request, and from the accept for the first one, the header timer takes over until
    the head is complete, as Go's server does with IdleTimeout and ReadHeaderTimeout."""

    __slots__ = ("_head_timer", "_limits", "_peer_ip", "_refused", "_tracker")

    def __init__(
        self, manager: web.Server, *, limits: HTTPLimits, tracker: ConnectionTracker, **kw: Any
    ) -> None:
        super().__init__(manager, **kw)
        self._limits = limits
        self._tracker = tracker
        self._peer_ip = ""
        self._head_timer: asyncio.TimerHandle | None = None
        self._refused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername")
        self._peer_ip = str(peer[0]) if peer else ""
        sock = transport.get_extra_info("socket")
        fd = sock.fileno() if sock is not None else -1
        why = self._tracker.admit(self._peer_ip, fd)
        if why != ADMITTED:
            self._refuse(transport, why)
            return
        super().connection_made(transport)
        if self._limits.header_timeout:
            # The header timer bounds the first request; the idle timer starts after it.
            if self._keepalive_handle is not None:
                self._keepalive_handle.cancel()
                self._keepalive_handle = None
            self._arm_head_timer()

    def _refuse(self, transport: asyncio.BaseTransport, why: str) -> None:
        self._refused = True
        limits = self._limits
        if why == OVER_CLIENT_CAP and limits.answer_429:
            # uvloop's transports are not asyncio's classes: no isinstance check.
            cast(asyncio.Transport, transport).write(too_many_conns_response(self._peer_ip, limits))
        transport.close()
        burst = self._tracker.burst if why == OVER_CLIENT_CAP else self._tracker.budget.burst
        if burst.note(time.monotonic()):
            if why == OVER_CLIENT_CAP:
                log.warning(
                    "refusing connections from %s: more than %d open (%s)",
                    self._peer_ip,
                    limits.max_conns_per_client,
                    limits.setting,
                )
            else:
                budget = self._tracker.budget
                log.warning(
                    "refusing connections on %s: the process is near its open files limit "
                    "(RLIMIT_NOFILE %d, %d held by API connections; %d descriptors are kept "
                    "for everything else); raise the limit (ulimit -n, LimitNOFILE=)",
                    self._tracker.name,
                    budget.soft_limit,
                    budget.open,
                    budget.reserve,
                )

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._refused:
            return
        if self._manager is not None:
            self._tracker.release(self._peer_ip)
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        waiter = self._waiter
        awaiting_head = waiter is not None and not waiter.done() and not self._messages
        count = self._request_count
        super().data_received(data)
        if self._request_count != count:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None
        elif awaiting_head and data and self._head_timer is None and self._limits.header_timeout:
            # The next request has begun: its head gets header_timeout from its first byte.
            if self._keepalive_handle is not None:
                self._keepalive_handle.cancel()
                self._keepalive_handle = None
            self._arm_head_timer()

    def _arm_head_timer(self) -> None:
        loop = self._loop
        self._head_timer = loop.call_at(
            loop.time() + self._limits.header_timeout, self._head_expired
        )

    def _head_expired(self) -> None:
        self._head_timer = None
        if not self._request_in_progress and not self._messages:
            self.force_close()

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if status == 400 and head_too_large(exc):
            # Go's answer (and so Nomad's and Consul's) to a head over MaxHeaderBytes.
            resp = web.Response(
                status=431,
                text=f"431 Request Header Fields Too Large: {_short(message or exc)}\n"
                f"(yurt reads request lines and header fields of up to "
                f"{self._limits.max_field_size} bytes and up to "
                f"{self._limits.max_headers} header fields)",
            )
            resp.force_close()
            return resp
        if status == 400:
            # A malformed request is the client's problem, not a server error to log.
            resp = web.Response(status=400, text=f"400 Bad Request: {_short(message or exc)}")
            resp.force_close()
            return resp
        return super().handle_error(request, status, exc, message)


def _short(reason: object) -> str:
    """aiohttp's parser errors quote the refused bytes over several lines: 200 characters
    of them on one line are enough to say what was wrong."""
    text = " ".join(line.strip() for line in str(reason).splitlines() if line.strip())
    text = text or "malformed request"
    return text if len(text) <= 200 else text[:200] + "..."


def listen_backlog() -> int:
    """The kernel's largest accept queue, as Go asks for: aiohttp's 128 overflows under a
    burst of connections, and a legitimate client caught in it waits a second to retry."""
    try:
        return max(128, int(Path("/proc/sys/net/core/somaxconn").read_text().strip()))
    except (OSError, ValueError):
        return 1024


class BoundedTCPSite(web.TCPSite):
    """A TCPSite whose connections are `BoundedRequestHandler`s with this listener's own
    tracker, and whose TLS handshakes are bounded by `handshake_timeout`."""

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str,
        port: int,
        *,
        limits: HTTPLimits,
        ssl_context: ssl.SSLContext | None = None,
        reuse_address: bool = True,
    ) -> None:
        super().__init__(
            runner,
            host,
            port,
            ssl_context=ssl_context,
            reuse_address=reuse_address,
            backlog=listen_backlog(),
        )
        self.limits = limits
        self.tracker = ConnectionTracker(
            limits.max_conns_per_client, process_budget(), name=f"{host}:{port}"
        )

    async def start(self) -> None:
        await web.BaseSite.start(self)
        loop = asyncio.get_running_loop()
        server = self._runner.server
        assert server is not None
        # The runner's handler arguments (access log, keep-alive, parser sizes), as
        # aiohttp's Server.__call__ passes them.
        handler_args: dict[str, Any] = dict(getattr(server, "_kwargs", {}))
        limits, tracker = self.limits, self.tracker

        def factory() -> BoundedRequestHandler:
            return BoundedRequestHandler(
                server, loop=loop, limits=limits, tracker=tracker, **handler_args
            )

        self._server = await loop.create_server(
            factory,
            self._host,
            self._port,
            ssl=self._ssl_context,
            backlog=self._backlog,
            reuse_address=self._reuse_address,
            reuse_port=self._reuse_port,
            ssl_handshake_timeout=(
                (limits.handshake_timeout or None) if self._ssl_context is not None else None
            ),
        )
        if self._server.sockets:
            self._bound_port = self._server.sockets[0].getsockname()[1]
        else:
            self._bound_port = self._port

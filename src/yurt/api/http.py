"""aiohttp helpers: JSON answers, request bodies, query flags, error responses."""

from __future__ import annotations

import json
import logging
import re
import ssl
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiohttp import web

from yurt.api.blocking import WatchHub
from yurt.api.errors import APIError
from yurt.api.limits import BoundedTCPSite, HTTPLimits

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_response(
    data: Any, *, status: int = 200, headers: dict[str, str] | None = None, pretty: bool = False
) -> web.Response:
    text = json.dumps(data, indent=4 if pretty else None)
    return web.Response(text=text, status=status, headers=headers, content_type="application/json")


def flag(request: web.Request, name: str) -> bool:
    """Consul's and Nomad's query flags count by presence: `?recurse` and `?recurse=` are on.

    An explicit false value (`?recurse=false`) turns it off, as the Go query parsers do.
    """
    if name not in request.query:
        return False
    return request.query.get(name, "").lower() not in ("false", "0")


# Go's encoding/json stops at 10,000 levels ("exceeded max depth"); Python's parser and
# the recursive walks after it (casing, deep copies, canonicalization) run out of stack far
# sooner, so yurt's bound is lower and checked before anything recurses.
MAX_JSON_DEPTH = 128


async def read_json(request: web.Request, *, max_bytes: int | None = None) -> Any:
    """The request body as JSON, or a 400 that says what is wrong with it."""
    body = await request.read()
    if max_bytes is not None and len(body) > max_bytes:
        raise APIError.too_large(f"Request body too large: {len(body)} bytes, max {max_bytes}")
    return decode_json_body(body)


def decode_json_body(body: bytes) -> Any:
    """`read_json` without the request: bytes -> JSON value, or APIError(400)."""
    if not body.strip():
        return None
    try:
        # Depth cannot exceed the number of openers: most bodies skip the walk.
        if body.count(b"[") + body.count(b"{") > MAX_JSON_DEPTH:
            _check_json_depth(body)
        return json.loads(body, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise APIError.bad_request(
            f"Request decode failed: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except UnicodeDecodeError:
        raise APIError.bad_request("Request decode failed: body is not UTF-8") from None
    except RecursionError:
        # The pre-check makes this unreachable; kept so that no body can ever be a 500.
        raise APIError.bad_request(
            f"Request decode failed: exceeded max depth of {MAX_JSON_DEPTH}"
        ) from None
    except ValueError as exc:
        # Numbers of more than 4,300 digits and NaN/Infinity land here.
        reason = str(exc)
        if "integer string conversion" in reason:
            reason = "a number has more than 4300 digits"
        raise APIError.bad_request(f"Request decode failed: {reason}") from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"invalid value {name}: JSON has no NaN or Infinity")


_JSON_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def _check_json_depth(body: bytes) -> None:
    """A 400 at the line and column where the nesting passes MAX_JSON_DEPTH."""
    depth = 0
    for m in _JSON_TOKENS.finditer(body):
        ch = m.group()
        if ch in (b"[", b"{"):
            depth += 1
            if depth > MAX_JSON_DEPTH:
                at = m.start()
                line = body.count(b"\n", 0, at) + 1
                column = at - (body.rfind(b"\n", 0, at) + 1) + 1
                raise APIError.bad_request(
                    f"Request decode failed: exceeded max depth: arrays and objects are "
                    f"nested more than {MAX_JSON_DEPTH} levels deep at line {line} "
                    f"column {column}"
                )
        elif ch in (b"]", b"}"):
            depth -= 1


def expect_object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise APIError.bad_request(
            f"Request decode failed: {where}: expected a JSON object, got {json_type_name(value)}"
        )
    return value


def json_type_name(value: Any) -> str:
    """A decoded JSON value's type as an error message names it ("got an array")."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """APIError -> plain-text answer with its status, as Consul and Nomad answer errors."""
    try:
        return await handler(request)
    except APIError as exc:
        return web.Response(status=exc.status, text=exc.message)
    except web.HTTPException:
        raise
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return web.Response(status=500, text="internal error: see the server log")


SHUTDOWN_GRACE = 2.0


def close_on_shutdown(app: web.Application, hub: WatchHub) -> None:
    """Close `hub` as soon as `app`'s runner begins its shutdown: every parked blocking query
    then answers at once with what it has, before the `SHUTDOWN_GRACE` given to requests
    still in flight runs out and they are cancelled without an answer."""

    async def close(_: web.Application) -> None:
        hub.close()

    app.on_shutdown.append(close)


class SiteRunner(web.AppRunner):
    """The runner `start_site` returns: cleaned up as any runner, and knowing the port each
    of its listeners got (the kernel's choice where port 0 was asked)."""

    ports: tuple[int, ...] = ()  # in the order of the listeners: plain, then TLS

    @property
    def port(self) -> int:
        """The first listener's port."""
        if not self.ports:
            raise RuntimeError("the site has no listener")
        return self.ports[0]


async def start_site(
    app: web.Application,
    host: str,
    port: int,
    *,
    tls: ssl.SSLContext | None = None,
    https_port: int | None = None,
    allowed_origins: Iterable[str] = (),
    advertise: Iterable[str] = (),
    limits: HTTPLimits | None = None,
) -> SiteRunner:
    """Serve `app` on host:port behind the browser guard; the runner is returned for cleanup,
    with the bound ports in `ports`.

    Every listener is bounded by `limits` (`yurt.api.limits`; bounded defaults when None):
    header-read, idle and TLS handshake timeouts, connections per client, head size, and
    the process's descriptor reserve.

    Every API listener is started here, so none can be served without the guard
    (`yurt.api.guard`); `allowed_origins` and `advertise` widen what it accepts.

    On cleanup, requests still in flight (followed log streams; parked blocking queries
    answer at once where the app has `close_on_shutdown`) get `SHUTDOWN_GRACE` seconds and
    are then cancelled: stopping must not wait out a five-minute `?wait=`.

    With `https_port` (Consul's `ports { http, https }`), `port` serves plain HTTP (nothing
    when negative) and `https_port` serves the same app with `tls`; the runner's sites are in
    that order."""
    from yurt.api.guard import BrowserGuard

    advertise, allowed_origins = list(advertise), list(allowed_origins)
    guard = BrowserGuard(
        host, tls=tls is not None, advertise=advertise, allowed_origins=allowed_origins
    )
    if https_port is None:
        app.middlewares.insert(0, guard.middleware)
    else:
        plain = BrowserGuard(host, tls=False, advertise=advertise, allowed_origins=allowed_origins)

        # A listener's own origin has its scheme: pick the guard by the connection's.
        @web.middleware
        async def by_scheme(request: web.Request, handler: Handler) -> web.StreamResponse:
            chosen = guard if request.secure else plain
            return await chosen.middleware(request, handler)

        app.middlewares.insert(0, by_scheme)
    limits = limits or HTTPLimits()
    runner = SiteRunner(
        app,
        access_log=None,
        handle_signals=False,
        shutdown_timeout=SHUTDOWN_GRACE,
        **limits.handler_args(),
    )
    await runner.setup()
    listeners: list[tuple[int, ssl.SSLContext | None]] = []
    if https_port is None:
        listeners.append((port, tls))
    else:
        if port >= 0:
            listeners.append((port, None))
        listeners.append((https_port, tls))
    try:
        for listen_port, context in listeners:
            site = BoundedTCPSite(
                runner, host, listen_port, limits=limits, reuse_address=True, ssl_context=context
            )
            known = len(runner.addresses)
            await site.start()
            # The runner lists its sockets' addresses site by site, in start order.
            addresses = runner.addresses
            bound = int(addresses[known][1]) if len(addresses) > known else listen_port
            runner.ports = (*runner.ports, bound)
    except BaseException:
        await runner.cleanup()  # a second listener that cannot bind frees the first
        raise
    return runner


def split_host_port(addr: str, default_port: int) -> tuple[str, int]:
    """ "127.0.0.1:8500", ":8500", "[::1]:8500" or "host" -> (host, port)."""
    text = addr.strip()
    if text.startswith("http://") or text.startswith("https://"):
        text = text.split("://", 1)[1].rstrip("/")
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.lstrip(":")
        return host, int(port) if port else default_port
    if text.count(":") == 1:
        host, port_text = text.split(":")
        if not port_text.isdigit():
            raise ValueError(f"invalid address {addr!r}: port must be a number")
        return host or "0.0.0.0", int(port_text)
    return text or "127.0.0.1", default_port

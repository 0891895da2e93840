"""aiohttp helpers: JSON answers, request bodies, query flags, error responses."""

from __future__ import annotations

import json
import logging
import ssl
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiohttp import web

from yurt.api.errors import APIError

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


async def read_json(request: web.Request, *, max_bytes: int | None = None) -> Any:
    """The request body as JSON, or a 400 that says what is wrong with it."""
    body = await request.read()
    if max_bytes is not None and len(body) > max_bytes:
        raise APIError.too_large(f"Request body too large: {len(body)} bytes, max {max_bytes}")
    if not body.strip():
        return None
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        raise APIError.bad_request(
            f"Request decode failed: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except UnicodeDecodeError:
        raise APIError.bad_request("Request decode failed: body is not UTF-8") from None


def expect_object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise APIError.bad_request(
            f"Request decode failed: {where}: expected a JSON object, got {_json_type(value)}"
        )
    return value


def _json_type(value: Any) -> str:
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


def json_type_name(value: Any) -> str:
    return _json_type(value)


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


async def start_site(
    app: web.Application,
    host: str,
    port: int,
    *,
    tls: ssl.SSLContext | None = None,
    allowed_origins: Iterable[str] = (),
    advertise: Iterable[str] = (),
) -> web.AppRunner:
    """Serve `app` on host:port behind the browser guard; the runner is returned for cleanup.

    Every API listener is started here, so none can be served without the guard
    (`yurt.api.guard`); `allowed_origins` and `advertise` widen what it accepts.

    On cleanup, requests still in flight (parked blocking queries, followed log streams)
    get `SHUTDOWN_GRACE` seconds and are then cancelled: stopping must not wait out a
    five-minute `?wait=`."""
    from yurt.api.guard import BrowserGuard

    guard = BrowserGuard(
        host, tls=tls is not None, advertise=advertise, allowed_origins=allowed_origins
    )
    app.middlewares.insert(0, guard.middleware)
    runner = web.AppRunner(
        app, access_log=None, handle_signals=False, shutdown_timeout=SHUTDOWN_GRACE
    )
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True, ssl_context=tls)
    await site.start()
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

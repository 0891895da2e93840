"""`/v1/agent/monitor`: the process's log lines, streamed to the reader as they are written.

A monitor attaches a logging handler to the root logger for as long as its reader stays,
at the level asked (`?loglevel=`, Consul's names), formatted as Consul's hclog lines or,
with `?logjson`, as its JSON lines. Lines go through a bounded queue: a reader that falls
behind loses lines (counted, and said in the stream) instead of holding memory or the
logging caller, as Consul's monitor drops them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable

from aiohttp import web

from yurt.api.errors import APIError
from yurt.api.http import flag

# Consul's level names -> Python's (trace has no Python level: debug shows it all)
LEVELS = {
    "trace": logging.DEBUG,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "err": logging.ERROR,
    "error": logging.ERROR,
}
_NAMES = {
    logging.DEBUG: "DEBUG",
    logging.INFO: "INFO",
    logging.WARNING: "WARN",
    logging.ERROR: "ERROR",
    logging.CRITICAL: "ERROR",
}
QUEUE_LINES = 512


def _stamp(created: float) -> str:
    millis = int(created * 1000) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + f".{millis:03d}Z"


def format_line(record: logging.LogRecord, as_json: bool) -> str:
    """One hclog line: `2024-01-01T00:00:00.000Z [INFO]  module: message`, or its JSON."""
    level = _NAMES.get(record.levelno, "INFO")
    message = record.getMessage()
    if as_json:
        return json.dumps(
            {
                "@level": level.lower(),
                "@message": message,
                "@module": record.name,
                "@timestamp": _stamp(record.created),
            }
        )
    return f"{_stamp(record.created)} [{level}] {' ' * (5 - len(level))}{record.name}: {message}"


class _QueueHandler(logging.Handler):
    def __init__(self, level: int, as_json: bool, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(level)
        self.as_json = as_json
        self.loop = loop
        self.queue: asyncio.Queue[str] = asyncio.Queue(QUEUE_LINES)
        self.dropped = 0

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = format_line(record, self.as_json)
        except Exception:  # a bad log call must not break the logger's caller
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            self._put(line)
        else:
            self.loop.call_soon_threadsafe(self._put, line)

    def _put(self, line: str) -> None:
        try:
            self.queue.put_nowait(line)
        except asyncio.QueueFull:
            self.dropped += 1


def parse_level(raw: str) -> int:
    level = LEVELS.get(raw.lower() if raw else "info")
    if level is None:
        raise APIError.bad_request(f"Bad request: Unknown log level: {raw}")
    return level


async def stream(request: web.Request, closed: Callable[[], bool]) -> web.StreamResponse:
    """Stream log lines until the reader leaves or `closed()` says the server stops."""
    level = parse_level(request.query.get("loglevel", "info"))
    handler = _QueueHandler(level, flag(request, "logjson"), asyncio.get_running_loop())
    root = logging.getLogger()
    old_level = root.level
    if root.level == logging.NOTSET or root.level > level:
        root.setLevel(level)
    root.addHandler(handler)
    resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
    try:
        await resp.prepare(request)
        # Consul says so first, so a reader knows it is attached
        logging.getLogger("yurt.catalog.monitor").info("monitor attached (%s)", request.remote)
        while not closed():
            try:
                line = await asyncio.wait_for(handler.queue.get(), 1.0)
            except TimeoutError:
                continue
            if handler.dropped:
                line = f"Monitor dropped {handler.dropped} logs during monitor request\n{line}"
                handler.dropped = 0
            await resp.write((line + "\n").encode())
    except ConnectionResetError:
        pass
    finally:
        root.removeHandler(handler)
        if not any(isinstance(h, _QueueHandler) for h in root.handlers):
            root.setLevel(old_level)
    with contextlib.suppress(ConnectionResetError, RuntimeError):
        await resp.write_eof()
    return resp

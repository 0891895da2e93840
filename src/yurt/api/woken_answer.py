"""Answers of woken blocking queries, put on their connections in one pass.

A write that wakes a thousand parked readers of a key used to answer them one task at a
time: each reader's task resumed, its handler returned, aiohttp built and serialised a
response, and only then came the next reader, some 60 microseconds each, so the last one
heard 60 ms after the write. Here the hub calls each woken reader's `WireAnswer.send`
from one callback that runs before any of their tasks: the shared answer's bytes (status
line, headers, body) go out back to back, and the tasks then finish with a `SentAnswer`,
which aiohttp sends nothing more for.

Only requests whose bytes yurt writes exactly as aiohttp would take this path: GET over
keep-alive HTTP/1.1, a 200 with a body under `MAX_BODY`, on an app whose response hooks
the caller applies itself (`headers` as the hooks leave them). Any other request, and any
answer the callback cannot send (the connection closing, the read not done), is answered
by its task as before. `tests/api/test_woken_answer.py` holds the two paths to the same
bytes.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import Mapping

from aiohttp import web
from aiohttp.http import SERVER_SOFTWARE, HttpVersion11

# Larger answers go through aiohttp's writer, which waits for a slow reader to drain.
MAX_BODY = 64 * 1024

_date_second = -1
_date_value = ""


def http_date() -> str:
    """The Date header's value, made once per second (as aiohttp's own)."""
    global _date_second, _date_value
    now = int(time.time())
    if now != _date_second:
        _date_second = now
        _date_value = email.utils.formatdate(now, usegmt=True)
    return _date_value


class SentAnswer(web.Response):
    """A handler's result for an answer already on the wire: nothing more is sent, the
    connection stays open for the next request, the access log counts the body."""

    def __init__(self, body_length: int) -> None:
        super().__init__(status=200)
        self._sent_length = body_length

    async def prepare(self, request: web.BaseRequest) -> None:
        return None

    async def write_eof(self, data: bytes = b"") -> None:
        return None

    @property
    def keep_alive(self) -> bool:
        return True

    @property
    def body_length(self) -> int:
        return self._sent_length


class WireAnswer:
    """One parked request's way onto its connection; `sent` once `send` wrote it."""

    __slots__ = ("_transport", "sent")

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self.sent = False

    @classmethod
    def of(cls, request: web.BaseRequest) -> WireAnswer | None:
        """The request's wire, or None when its answer must go through aiohttp."""
        transport = request.transport
        if (
            transport is None
            or request.method != "GET"
            or request.version != HttpVersion11
            or not request.keep_alive
        ):
            return None
        return cls(transport)

    def send(self, headers: Mapping[str, str], body: bytes) -> bool:
        """Write a 200 with `headers` (then Content-Type, Content-Length, Date, Server, in
        aiohttp's order) and `body`; False, having written nothing, when it cannot."""
        if self.sent or len(body) >= MAX_BODY or self._transport.is_closing():
            return False
        lines = ["HTTP/1.1 200 OK"]
        lines.extend(f"{name}: {value}" for name, value in headers.items())
        lines.append("Content-Type: application/json")
        lines.append(f"Content-Length: {len(body)}")
        lines.append(f"Date: {http_date()}")
        lines.append(f"Server: {SERVER_SOFTWARE}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self._transport.write(head + body)
        self.sent = True
        return True

    def response(self, body: bytes) -> SentAnswer:
        return SentAnswer(len(body))

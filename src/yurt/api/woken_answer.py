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
from collections.abc import Callable, Mapping
from typing import TypeVar

from aiohttp import web
from aiohttp.helpers import rfc822_formatted_time
from aiohttp.http import SERVER_SOFTWARE, HttpVersion11

T = TypeVar("T")

# Larger answers go through aiohttp's writer, which waits for a slow reader to drain.
MAX_BODY = 64 * 1024


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
    """One parked request's way onto its connection; `sent` once an answer went that way.

    wire = WireAnswer.of(request)
    body, index = await blocking_encoded(..., wire.sender(lambda a: (headers, a[0])))
    if wire.sent:
        return wire.response(body)
    """

    __slots__ = ("_transport", "sent")

    def __init__(self, transport: asyncio.Transport | None) -> None:
        self._transport = transport
        self.sent = False

    @classmethod
    def of(cls, request: web.BaseRequest, usable: bool = True) -> WireAnswer:
        """The request's wire; one that never sends when its answer must go through
        aiohttp (not `usable`: a middleware rewrites answers after the handler)."""
        transport = request.transport
        if (
            not usable
            or request.method != "GET"
            or request.version != HttpVersion11
            or not request.keep_alive
        ):
            transport = None
        return cls(transport)

    def sender(
        self, answer_of: Callable[[T], tuple[Mapping[str, str], bytes] | None]
    ) -> Callable[[T], bool] | None:
        """What the blocking query hands a woken reader's answer to (`wait_until`'s `send`):
        `answer_of` gives its headers and body, or None to leave it to aiohttp. None when
        this wire never sends."""
        if self._transport is None:
            return None

        def send(answer: T) -> bool:
            parts = answer_of(answer)
            return parts is not None and self.send(*parts)

        return send

    def send(self, headers: Mapping[str, str], body: bytes) -> bool:
        """Write a 200 with `headers` (then Content-Type, Content-Length, Date, Server, in
        aiohttp's order) and `body`; False, having written nothing, when it cannot."""
        transport = self._transport
        if self.sent or transport is None or len(body) >= MAX_BODY or transport.is_closing():
            return False
        lines = ["HTTP/1.1 200 OK"]
        lines.extend(f"{name}: {value}" for name, value in headers.items())
        lines.append("Content-Type: application/json")
        lines.append(f"Content-Length: {len(body)}")
        lines.append(f"Date: {rfc822_formatted_time()}")
        lines.append(f"Server: {SERVER_SOFTWARE}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        transport.write(head + body)
        self.sent = True
        return True

    def response(self, body: bytes) -> SentAnswer:
        return SentAnswer(len(body))

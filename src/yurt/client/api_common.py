"""What every handler of the client's HTTP API shares: the agent, the allocation a path
names, and the `origin`/`offset` and frame encoding of Nomad's streamed files and logs."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aiohttp import web

from yurt.api.errors import APIError
from yurt.client.stats import UsageSampler

if TYPE_CHECKING:
    from yurt.client.agent import ClientAgent
    from yurt.client.alloc_runner import AllocRunner

Obj = dict[str, Any]

HEARTBEAT_S = 10.0  # between empty frames on an idle followed stream
POLL_S = 0.1  # between looks at a followed file that has not grown

AGENT_KEY: web.AppKey[ClientAgent] = web.AppKey("yurt.client.agent")
# One sampler per app: CPU percentages are deltas between a task's successive samples.
SAMPLER_KEY: web.AppKey[UsageSampler] = web.AppKey("yurt.client.sampler")


def agent_of(request: web.Request) -> ClientAgent:
    return request.app[AGENT_KEY]


def runner_of(request: web.Request) -> AllocRunner:
    """The allocation the path's `{alloc}` names, or Nomad's 404."""
    alloc_id = request.match_info["alloc"]
    runner = agent_of(request).find_runner(alloc_id)
    if runner is None:
        raise APIError.not_found(f'Unknown allocation "{alloc_id}"')
    return runner


def origin_offset(q: Mapping[str, str]) -> tuple[str, int]:
    """`?origin=start|end&offset=N` of Nomad's fs/stream and logs, or a 400 saying why."""
    origin = q.get("origin", "start")
    if origin not in ("start", "end"):
        raise APIError.bad_request('origin must be "start" or "end"')
    try:
        offset = int(q.get("offset", "0"))
    except ValueError:
        raise APIError.bad_request("offset must be an integer") from None
    if offset < 0:
        raise APIError.bad_request("offset must be a positive value")
    return origin, offset


def frame(data: bytes, offset: int, file: str, event: str = "") -> bytes:
    """One of Nomad's stream frames: the bytes read, the offset after them, the file."""
    body: Obj = {"Offset": offset, "Data": base64.b64encode(data).decode(), "File": file}
    if event:
        body["FileEvent"] = event
    return json.dumps(body).encode()


class FollowedStream:
    """The answer of `fs/stream` and `fs/logs`: a file's bytes as Nomad's frames (or plain
    with `?plain`), and while following an idle file, an empty frame every HEARTBEAT_S so
    that the reader and the proxies between can tell a quiet file from a dead connection."""

    def __init__(self, resp: web.StreamResponse, plain: bool) -> None:
        self.resp = resp
        self.plain = plain
        self._last_sent = time.monotonic()

    @classmethod
    async def open(cls, request: web.Request, plain: bool) -> FollowedStream:
        resp = web.StreamResponse()
        resp.content_type = "text/plain" if plain else "application/json"
        await resp.prepare(request)
        return cls(resp, plain)

    async def send(self, data: bytes, end: int, file: str) -> None:
        """`data`, read from `file` up to offset `end`."""
        await self.resp.write(data if self.plain else frame(data, end, file))
        self._last_sent = time.monotonic()

    async def idle(self) -> None:
        """Nothing new to send: a heartbeat when one is due, then a pause before the next look."""
        if not self.plain and time.monotonic() - self._last_sent > HEARTBEAT_S:
            await self.resp.write(b"{}")
            self._last_sent = time.monotonic()
        await asyncio.sleep(POLL_S)

    async def close(self) -> web.StreamResponse:
        await self.resp.write_eof()
        return self.resp

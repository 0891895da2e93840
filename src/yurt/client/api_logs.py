"""`/v1/client/fs/logs/<alloc>`: a task's stdout or stderr across its rotated files, from
the start or the end, in Nomad's frames or plain, followed until the task is done."""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiohttp import web

from yurt.api import routes
from yurt.api.errors import APIError
from yurt.api.http import flag
from yurt.client.api_common import (
    POLL_S,
    FollowedStream,
    agent_of,
    origin_offset,
    runner_of,
)
from yurt.client.filestream import file_size, read_chunk
from yurt.client.logfiles import log_indexes


async def logs(request: web.Request) -> web.StreamResponse:
    runner = runner_of(request)
    agent = agent_of(request)
    q = request.query
    task = q.get("task", "")
    if not task:
        raise APIError.bad_request("must provide task name")
    if task not in runner.tasks:
        raise APIError.bad_request(f'unknown task name "{task}"')
    kind = q.get("type", "")
    if kind not in ("stdout", "stderr"):
        raise APIError.bad_request("must provide log type (stdout/stderr)")
    origin, offset = origin_offset(q)
    follow = flag(request, "follow")
    plain = flag(request, "plain")
    log_dir = runner.alloc_dir.logs
    index, pos = start_position(log_dir, task, kind, origin, offset)
    out = await FollowedStream.open(request, plain)
    task_runner = runner.tasks[task]
    while True:
        path = log_dir / f"{task}.{kind}.{index}"
        data = await read_chunk(path, pos)
        if data:
            await out.send(data, pos + len(data), f"alloc/logs/{path.name}")
            pos += len(data)
            continue
        newer = [i for i in log_indexes(log_dir, task, kind) if i > index]
        if newer:
            index, pos = newer[0], 0
            continue
        if not follow or (task_runner.done.is_set() and await _drained(path, pos)):
            break
        if agent.stopping:
            break  # a follower must not hold the client's shutdown
        await out.idle()
    return await out.close()


async def _drained(path: Path, pos: int) -> bool:
    """A dead task's logmon may still be flushing: stop once the file stops growing."""
    await asyncio.sleep(POLL_S)
    size = await file_size(path)
    return size is None or size <= pos


def start_position(
    log_dir: Path, task: str, kind: str, origin: str, offset: int
) -> tuple[int, int]:
    """The log file (its rotation index) and the offset in it where reading starts."""
    indexes = log_indexes(log_dir, task, kind) or [0]
    if origin == "start":
        # Nomad's offset from the start counts within the first file it finds.
        index = indexes[0]
        return index, offset
    # From the end: walk back through older files until `offset` bytes are covered.
    remaining = offset
    for index in reversed(indexes):
        try:
            size = (log_dir / f"{task}.{kind}.{index}").stat().st_size
        except FileNotFoundError:
            size = 0
        if remaining <= size:
            return index, size - remaining
        remaining -= size
    return indexes[0], 0


ROUTES = (routes.get("/v1/client/fs/logs/{alloc}", logs),)

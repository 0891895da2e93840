"""`nomad alloc exec` on the node: a command run inside a task, over Nomad's exec WebSocket.

The frames are Nomad's: the caller sends `{"stdin": {"data": b64}}`, `{"stdin": {"close":
true}}` and `{"tty_size": {"height", "width"}}`; we send `{"stdout": {"data": b64}}`,
`{"stderr": {...}}` and last `{"exited": true, "result": {"exit_code": N}}`.

This module is the protocol only: the task's driver runs the command (its handle's
`exec_streaming`), as the task runs (raw_exec: a process beside it; exec: inside its
namespaces and chroot; docker: the Engine's exec API).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from yurt.api.errors import APIError
from yurt.client.drivers.base import DriverError, ExecInput, ExecStreams, TaskHandle, TtySize

if TYPE_CHECKING:
    from yurt.client.task_runner import TaskRunner

log = logging.getLogger(__name__)

# What a command that could not be started at all exits with ("command invoked cannot
# execute"), after the reason on stderr.
_CANNOT_EXECUTE = 126
_FIRST_FRAME_WAIT = 0.5  # seconds


def parse_exec_request(
    request: web.Request, tasks: dict[str, TaskRunner]
) -> tuple[TaskHandle, list[str], bool]:
    """The task's handle, the command and the tty flag of an exec request, or a 400 naming
    the field."""
    name = request.query.get("task", "")
    if not name:
        raise APIError.bad_request("missing task name: pass ?task=")
    runner = tasks.get(name)
    if runner is None:
        raise APIError.bad_request(f'unknown task name "{name}"')
    raw = request.query.get("command", "")
    try:
        command = json.loads(raw)
    except json.JSONDecodeError:
        raise APIError.bad_request(
            f"command: expected a JSON array of strings, got {raw!r}"
        ) from None
    if not (isinstance(command, list) and command and all(isinstance(c, str) for c in command)):
        raise APIError.bad_request("command: expected a non-empty JSON array of strings")
    handle = runner.handle
    if not runner.running or handle is None:
        raise APIError.bad_request(f'task "{name}" is not running')
    if not handle.exec_streaming_supported:
        driver = str(runner.task.get("Driver", ""))
        raise APIError.bad_request(
            f'task "{name}" uses the {driver} driver, which cannot run commands in its tasks'
        )
    tty = request.query.get("tty", "false").lower() in ("1", "true")
    return handle, command, tty


class _Caller:
    """What the caller sent, for the driver: frames queued in order, except a terminal size
    sent before the command starts, which it starts with."""

    def __init__(self) -> None:
        self.inputs: asyncio.Queue[ExecInput] = asyncio.Queue()
        self.tty_size: TtySize | None = None
        self.started = False
        self.heard = asyncio.Event()

    def put(self, item: ExecInput) -> None:
        if isinstance(item, TtySize) and not self.started and self.inputs.empty():
            self.tty_size = item
        else:
            self.inputs.put_nowait(item)
        self.heard.set()

    async def read(self, ws: web.WebSocketResponse) -> None:
        """Until the caller goes away."""
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                break
            try:
                frame = json.loads(msg.data)
            except json.JSONDecodeError:
                continue
            if not isinstance(frame, dict):
                continue
            try:
                items = _inputs(frame)
            except (ValueError, TypeError, AttributeError):  # a malformed frame is dropped
                log.debug("alloc exec: dropped a malformed frame %.200s", msg.data)
                continue
            for item in items:
                self.put(item)


def _inputs(frame: dict[str, Any]) -> list[ExecInput]:
    out: list[ExecInput] = []
    stdin = frame.get("stdin") or {}
    if stdin.get("data"):
        out.append(base64.b64decode(stdin["data"], validate=True))
    if stdin.get("close"):
        out.append(None)
    size = frame.get("tty_size") or {}
    if size:
        out.append(TtySize(int(size.get("height") or 0), int(size.get("width") or 0)))
    return out


async def serve_exec(
    request: web.Request, handle: TaskHandle, command: list[str], tty: bool
) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    caller = _Caller()

    async def output(key: str, data: bytes) -> None:
        await _send(ws, {key: {"data": _b64(data)}})

    reader = asyncio.create_task(caller.read(ws))
    if tty:
        # Nomad's CLI sends the terminal's size first thing: a short wait lets the command
        # start with it rather than be resized once it runs.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(caller.heard.wait(), _FIRST_FRAME_WAIT)
    caller.started = True
    streams = ExecStreams(caller.inputs, output, caller.tty_size)
    run = asyncio.create_task(handle.exec_streaming(command, tty=tty, streams=streams))
    try:
        await asyncio.wait({run, reader}, return_when=asyncio.FIRST_COMPLETED)
        if run.done():
            try:
                code = run.result()
            except DriverError as exc:
                await output("stderr", f"{exc}\n".encode())
                code = _CANNOT_EXECUTE
            except Exception as exc:  # the engine or the OS failed us: say so, do not hang
                log.exception("alloc exec of %s failed", command)
                await output("stderr", f"failed to exec into task: {exc}\n".encode())
                code = _CANNOT_EXECUTE
            await _send(ws, {"exited": True, "result": {"exit_code": code}})
        # else the caller went away: the command goes with it (below).
    finally:
        for task in (run, reader):
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await run
        await ws.close()
    return ws


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def _send(ws: web.WebSocketResponse, frame: dict[str, Any]) -> None:
    if not ws.closed:
        await ws.send_str(json.dumps(frame))

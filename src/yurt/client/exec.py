"""`nomad alloc exec` on the node: a command run beside a task, over Nomad's exec WebSocket.

The frames are Nomad's: the caller sends `{"stdin": {"data": b64}}`, `{"stdin": {"close":
true}}` and `{"tty_size": {"height", "width"}}`; we send `{"stdout": {"data": b64}}`,
`{"stderr": {...}}` and last `{"exited": true, "result": {"exit_code": N}}`.

Only raw_exec tasks are supported: the command runs as the task does, in its directory with
its environment. Docker and exec tasks are refused with a 400 that says so.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import fcntl
import json
import os
import pty
import struct
import termios
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from yurt.api.errors import APIError

if TYPE_CHECKING:
    from yurt.client.task_runner import TaskRunner

_SUPPORTED_DRIVERS = {"raw_exec"}


def parse_exec_request(
    request: web.Request, tasks: dict[str, TaskRunner]
) -> tuple[TaskRunner, list[str], bool]:
    """The task, the command and the tty flag of an exec request, or a 400 naming the field."""
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
    driver = str(runner.task.get("Driver", ""))
    if driver not in _SUPPORTED_DRIVERS:
        raise APIError.bad_request(
            f'task "{name}" uses the {driver} driver; yurt runs alloc exec in raw_exec tasks only'
        )
    if not runner.running:
        raise APIError.bad_request(f'task "{name}" is not running')
    tty = request.query.get("tty", "false").lower() in ("1", "true")
    return runner, command, tty


async def serve_exec(
    request: web.Request, runner: TaskRunner, command: list[str], tty: bool
) -> web.WebSocketResponse:
    ctx = runner.make_context()
    env = {**os.environ, **ctx.env}
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    master: int | None = None
    try:
        if tty:
            master, slave = pty.openpty()
            proc = await asyncio.create_subprocess_exec(
                *command,
                stdin=slave,
                stdout=slave,
                stderr=slave,
                cwd=ctx.task_dir,
                env=env,
                start_new_session=True,
            )
            os.close(slave)
        else:
            proc = await asyncio.create_subprocess_exec(
                *command,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                cwd=ctx.task_dir,
                env=env,
                start_new_session=True,
            )
    except OSError as exc:
        await _send(ws, {"stderr": {"data": _b64(f"exec failed: {exc}\n".encode())}})
        await _send(ws, {"exited": True, "result": {"exit_code": 127}})
        await ws.close()
        return ws

    pumps: list[asyncio.Task[None]] = []
    if master is not None:
        pumps.append(asyncio.create_task(_pump_pty(master, ws)))
    else:
        assert proc.stdout is not None and proc.stderr is not None
        pumps.append(asyncio.create_task(_pump_stream(proc.stdout, ws, "stdout")))
        pumps.append(asyncio.create_task(_pump_stream(proc.stderr, ws, "stderr")))
    reader = asyncio.create_task(_read_caller(ws, proc, master))
    try:
        code = await proc.wait()
        await asyncio.gather(*pumps, return_exceptions=True)
        await _send(ws, {"exited": True, "result": {"exit_code": code}})
    finally:
        reader.cancel()
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, 9)
            await proc.wait()
        if master is not None:
            with contextlib.suppress(OSError):
                os.close(master)
        await ws.close()
    return ws


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def _send(ws: web.WebSocketResponse, frame: dict[str, Any]) -> None:
    if not ws.closed:
        await ws.send_str(json.dumps(frame))


async def _pump_stream(stream: asyncio.StreamReader, ws: web.WebSocketResponse, key: str) -> None:
    while chunk := await stream.read(65536):
        await _send(ws, {key: {"data": _b64(chunk)}})


async def _pump_pty(master: int, ws: web.WebSocketResponse) -> None:
    loop = asyncio.get_running_loop()
    while True:
        try:
            chunk = await loop.run_in_executor(None, os.read, master, 65536)
        except OSError:  # EIO: the command closed the terminal
            return
        if not chunk:
            return
        await _send(ws, {"stdout": {"data": _b64(chunk)}})


async def _read_caller(
    ws: web.WebSocketResponse, proc: asyncio.subprocess.Process, master: int | None
) -> None:
    async for msg in ws:
        if msg.type != WSMsgType.TEXT:
            break
        try:
            frame = json.loads(msg.data)
        except json.JSONDecodeError:
            continue
        stdin = frame.get("stdin") or {}
        if stdin.get("data"):
            data = base64.b64decode(stdin["data"])
            if master is not None:
                os.write(master, data)
            elif proc.stdin is not None:
                proc.stdin.write(data)
                await proc.stdin.drain()
        if stdin.get("close") and master is None and proc.stdin is not None:
            proc.stdin.close()
        size = frame.get("tty_size") or {}
        if size and master is not None:
            winsize = struct.pack(
                "HHHH", int(size.get("height", 24)), int(size.get("width", 80)), 0, 0
            )
            fcntl.ioctl(master, termios.TIOCSWINSZ, winsize)
    # The caller went away: the command goes with it.
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 9)

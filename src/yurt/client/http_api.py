"""The client's HTTP API: Nomad's `/v1/client/*` endpoints (which the scheduler forwards
here by allocation) and `/v1/agent/health` for the client's own catalog check."""

from __future__ import annotations

import asyncio
import base64
import json
import mimetypes
import stat as statmod
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from yurt.api.errors import APIError
from yurt.api.http import error_middleware, expect_object, flag, json_response, read_json
from yurt.client import acl as client_acl
from yurt.client.allocdir import PathEscapesError
from yurt.client.drivers.base import DriverError, parse_signal
from yurt.client.filestream import file_size, read_chunk, read_chunks
from yurt.client.logfiles import log_indexes
from yurt.client.stats import UsageSampler

if TYPE_CHECKING:
    from yurt.client.agent import ClientAgent
    from yurt.client.alloc_runner import AllocRunner

Obj = dict[str, Any]
_HEARTBEAT = 10.0  # seconds between empty frames on an idle followed stream
_POLL = 0.1


def build_app(agent: ClientAgent) -> web.Application:
    api = ClientAPI(agent)
    app = web.Application(middlewares=[error_middleware])
    # Nomad's ACLs, resolved through the server (which says whether they are on).
    client_acl.install(app, agent, agent.config.acl_token_ttl)
    r = app.router
    r.add_get("/v1/agent/health", api.health)
    r.add_get("/v1/client/stats", api.host_stats)
    r.add_get("/v1/client/fs/logs/{alloc}", api.logs)
    r.add_get("/v1/client/fs/cat/{alloc}", api.cat)
    r.add_get("/v1/client/fs/readat/{alloc}", api.readat)
    r.add_get("/v1/client/fs/stream/{alloc}", api.stream)
    r.add_get("/v1/client/fs/ls/{alloc}", api.ls)
    r.add_get("/v1/client/fs/stat/{alloc}", api.stat)
    r.add_get("/v1/client/allocation/{alloc}/stats", api.alloc_stats)
    r.add_route("*", "/v1/client/allocation/{alloc}/restart", api.restart)
    r.add_route("*", "/v1/client/allocation/{alloc}/signal", api.signal)
    r.add_get("/v1/client/allocation/{alloc}/exec", api.exec)
    return app


def _file_info(path: Path, name: str) -> Obj:
    st = path.lstat()
    is_dir = statmod.S_ISDIR(st.st_mode)
    return {
        "Name": name,
        "IsDir": is_dir,
        "Size": st.st_size,
        "FileMode": statmod.filemode(st.st_mode),
        "ModTime": datetime.fromtimestamp(st.st_mtime, UTC).isoformat().replace("+00:00", "Z"),
        "ContentType": "" if is_dir else (mimetypes.guess_type(name)[0] or "text/plain"),
    }


def _frame(data: bytes, offset: int, file: str, event: str = "") -> bytes:
    body: Obj = {"Offset": offset, "Data": base64.b64encode(data).decode(), "File": file}
    if event:
        body["FileEvent"] = event
    return json.dumps(body).encode()


class ClientAPI:
    def __init__(self, agent: ClientAgent) -> None:
        self.agent = agent
        self.sampler = UsageSampler()

    def _runner(self, request: web.Request) -> AllocRunner:
        alloc_id = request.match_info["alloc"]
        runner = self.agent.find_runner(alloc_id)
        if runner is None:
            raise APIError.not_found(f'Unknown allocation "{alloc_id}"')
        return runner

    async def health(self, request: web.Request) -> web.Response:
        kind = request.query.get("type", "")
        if kind == "server":
            raise APIError.bad_request("server not enabled on this agent")
        return json_response({"client": {"ok": True, "message": "ok"}})

    async def host_stats(self, request: web.Request) -> web.Response:
        return json_response(self.sampler.host(self.agent.config.data_dir))

    # --- files --------------------------------------------------------------------------

    def _path(self, runner: AllocRunner, request: web.Request) -> Path:
        raw = request.query.get("path", "/")
        try:
            path = runner.alloc_dir.resolve(raw)
            # exists() is False for a path that is not there, and raises for one the OS
            # refuses to look up (a name over 255 bytes, a NUL): those were 500s.
            path.exists()
        except PathEscapesError as exc:
            raise APIError(403, str(exc)) from None
        except (OSError, ValueError) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise APIError.bad_request(f"stat {raw[:200]}: {why.lower()}") from None
        return path

    async def ls(self, request: web.Request) -> web.Response:
        runner = self._runner(request)
        path = self._path(runner, request)
        if not path.exists():
            raise APIError.not_found(
                f"open {request.query.get('path', '/')}: no such file or directory"
            )
        if not path.is_dir():
            raise APIError.bad_request(f"{request.query.get('path')} is not a directory")
        entries = [_file_info(p, p.name) for p in sorted(path.iterdir())]
        return json_response(entries)

    async def stat(self, request: web.Request) -> web.Response:
        runner = self._runner(request)
        path = self._path(runner, request)
        if not path.exists():
            raise APIError.not_found(
                f"stat {request.query.get('path', '/')}: no such file or directory"
            )
        return json_response(_file_info(path, path.name))

    async def cat(self, request: web.Request) -> web.StreamResponse:
        runner = self._runner(request)
        path = self._path(runner, request)
        if not path.is_file():
            raise APIError.bad_request(
                f"file {request.query.get('path', '')!r} not found or is a directory"
            )
        return await self._send_file(request, path, 0, -1)

    async def readat(self, request: web.Request) -> web.StreamResponse:
        runner = self._runner(request)
        path = self._path(runner, request)
        if not path.is_file():
            raise APIError.bad_request(f"file {request.query.get('path', '')!r} not found")
        try:
            offset = int(request.query.get("offset", "0"))
            limit = int(request.query.get("limit", "-1"))
        except ValueError:
            raise APIError.bad_request("offset and limit must be integers") from None
        if offset < 0:
            raise APIError.bad_request("offset must be a positive value")
        return await self._send_file(request, path, offset, limit)

    async def _send_file(
        self, request: web.Request, path: Path, offset: int, limit: int
    ) -> web.StreamResponse:
        """The file's bytes, streamed chunk by chunk: memory does not grow with its size."""
        resp = web.StreamResponse()
        resp.content_type = "text/plain"
        await resp.prepare(request)
        async for chunk in read_chunks(path, offset, limit):
            await resp.write(chunk)
        await resp.write_eof()
        return resp

    async def stream(self, request: web.Request) -> web.StreamResponse:
        """`fs/stream`: a file's contents as frames (or plain), following it by default."""
        runner = self._runner(request)
        path = self._path(runner, request)
        if not path.is_file():
            raise APIError.bad_request(f"file {request.query.get('path', '')!r} not found")
        q = request.query
        origin, offset = _origin_offset(q)
        # Nomad's fs/stream follows unless told not to.
        follow = q.get("follow", "true").lower() not in ("false", "0")
        plain = flag(request, "plain")
        size = await file_size(path) or 0
        pos = max(0, size - offset) if origin == "end" else offset
        rel = q.get("path", "").lstrip("/")
        resp = web.StreamResponse()
        resp.content_type = "text/plain" if plain else "application/json"
        await resp.prepare(request)
        last_sent = time.monotonic()
        while True:
            data = await read_chunk(path, pos)
            if data:
                await resp.write(data if plain else _frame(data, pos + len(data), rel))
                pos += len(data)
                last_sent = time.monotonic()
                continue
            if not follow or self.agent.stopping or await file_size(path) is None:
                break
            if not plain and time.monotonic() - last_sent > _HEARTBEAT:
                await resp.write(b"{}")
                last_sent = time.monotonic()
            await asyncio.sleep(_POLL)
        await resp.write_eof()
        return resp

    # --- logs ---------------------------------------------------------------------------

    async def logs(self, request: web.Request) -> web.StreamResponse:
        runner = self._runner(request)
        q = request.query
        task = q.get("task", "")
        if not task:
            raise APIError.bad_request("must provide task name")
        if task not in runner.tasks:
            raise APIError.bad_request(f'unknown task name "{task}"')
        kind = q.get("type", "")
        if kind not in ("stdout", "stderr"):
            raise APIError.bad_request("must provide log type (stdout/stderr)")
        origin, offset = _origin_offset(q)
        follow = flag(request, "follow")
        plain = flag(request, "plain")
        log_dir = runner.alloc_dir.logs
        index, pos = self._start_position(log_dir, task, kind, origin, offset)
        resp = web.StreamResponse()
        resp.content_type = "text/plain" if plain else "application/json"
        await resp.prepare(request)
        task_runner = runner.tasks[task]
        last_sent = time.monotonic()
        while True:
            path = log_dir / f"{task}.{kind}.{index}"
            data = await read_chunk(path, pos)
            if data:
                rel = f"alloc/logs/{path.name}"
                await resp.write(data if plain else _frame(data, pos + len(data), rel))
                pos += len(data)
                last_sent = time.monotonic()
                continue
            newer = [i for i in log_indexes(log_dir, task, kind) if i > index]
            if newer:
                index, pos = newer[0], 0
                continue
            if not follow or (task_runner.done.is_set() and await self._drained(path, pos)):
                break
            if self.agent.stopping:
                break  # a follower must not hold the client's shutdown
            if not plain and time.monotonic() - last_sent > _HEARTBEAT:
                await resp.write(b"{}")
                last_sent = time.monotonic()
            await asyncio.sleep(_POLL)
        await resp.write_eof()
        return resp

    async def _drained(self, path: Path, pos: int) -> bool:
        """A dead task's logmon may still be flushing: stop once the file stops growing."""
        await asyncio.sleep(_POLL)
        size = await file_size(path)
        return size is None or size <= pos

    @staticmethod
    def _start_position(
        log_dir: Path, task: str, kind: str, origin: str, offset: int
    ) -> tuple[int, int]:
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

    # --- stats and operations -----------------------------------------------------------

    async def alloc_stats(self, request: web.Request) -> web.Response:
        runner = self._runner(request)
        tasks: Obj = {}
        now = time.time_ns()
        totals = {"rss": 0, "percent": 0.0, "system": 0.0, "user": 0.0}
        for name, tr in runner.tasks.items():
            pids = await asyncio.to_thread(tr.handle.pids) if tr.handle is not None else []
            usage = self.sampler.task_usage(f"{runner.id}/{name}", pids)
            tasks[name] = {"ResourceUsage": usage, "Timestamp": now, "Pids": None}
            totals["rss"] += usage["MemoryStats"]["RSS"]
            totals["percent"] += usage["CpuStats"]["Percent"]
            totals["system"] += usage["CpuStats"]["SystemMode"]
            totals["user"] += usage["CpuStats"]["UserMode"]
        if not tasks:
            raise APIError.not_found("no tasks")
        summary = json.loads(json.dumps(next(iter(tasks.values()))["ResourceUsage"]))
        summary["MemoryStats"]["RSS"] = summary["MemoryStats"]["Usage"] = totals["rss"]
        summary["CpuStats"]["Percent"] = totals["percent"]
        summary["CpuStats"]["SystemMode"] = totals["system"]
        summary["CpuStats"]["UserMode"] = totals["user"]
        return json_response({"ResourceUsage": summary, "Tasks": tasks, "Timestamp": now})

    async def restart(self, request: web.Request) -> web.Response:
        runner = self._runner(request)
        body = expect_object(await read_json(request) or {}, "body")
        task = str(body.get("TaskName") or request.query.get("task") or "")
        if task and task not in runner.tasks:
            raise APIError.bad_request(f'Failed to restart task "{task}": unknown task name')
        await runner.restart_tasks(task or None, bool(body.get("AllTasks")))
        return json_response({"Index": 0})

    async def signal(self, request: web.Request) -> web.Response:
        runner = self._runner(request)
        body = expect_object(await read_json(request) or {}, "body")
        task = str(body.get("Task") or "")
        name = str(body.get("Signal") or "SIGKILL")
        if task and task not in runner.tasks:
            raise APIError.bad_request(f'Failed to signal task "{task}": unknown task name')
        try:
            sig = parse_signal(name)
            await runner.signal_tasks(task or None, sig, name)
        except (ValueError, DriverError) as exc:
            raise APIError.bad_request(str(exc)) from None
        return json_response({"Index": 0})

    async def exec(self, request: web.Request) -> web.StreamResponse:
        from yurt.client.exec import parse_exec_request, serve_exec

        runner, command, tty = parse_exec_request(request, self._runner(request).tasks)
        return await serve_exec(request, runner, command, tty)


def _origin_offset(q: Mapping[str, str]) -> tuple[str, int]:
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

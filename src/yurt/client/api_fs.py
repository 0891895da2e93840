"""`/v1/client/fs/*`: an allocation's directory as Nomad serves it: `ls`, `stat`, `cat`,
`readat` and `stream` (frames or plain bytes, following the file by default). Every path
resolves inside the allocation directory; file bodies stream, so memory does not grow with
a file's size."""

from __future__ import annotations

import mimetypes
import stat as statmod
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web

from yurt.api import routes
from yurt.api.errors import APIError
from yurt.api.http import flag, json_response
from yurt.client.allocdir import PathEscapesError
from yurt.client.api_common import (
    FollowedStream,
    Obj,
    agent_of,
    origin_offset,
    runner_of,
)
from yurt.client.filestream import file_size, read_chunk, read_chunks


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


def _path(request: web.Request) -> Path:
    """`?path=` resolved inside the allocation directory of the path's `{alloc}`."""
    runner = runner_of(request)
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


async def ls(request: web.Request) -> web.Response:
    path = _path(request)
    if not path.exists():
        raise APIError.not_found(
            f"open {request.query.get('path', '/')}: no such file or directory"
        )
    if not path.is_dir():
        raise APIError.bad_request(f"{request.query.get('path')} is not a directory")
    entries = [_file_info(p, p.name) for p in sorted(path.iterdir())]
    return json_response(entries)


async def stat(request: web.Request) -> web.Response:
    path = _path(request)
    if not path.exists():
        raise APIError.not_found(
            f"stat {request.query.get('path', '/')}: no such file or directory"
        )
    return json_response(_file_info(path, path.name))


async def cat(request: web.Request) -> web.StreamResponse:
    path = _path(request)
    if not path.is_file():
        raise APIError.bad_request(
            f"file {request.query.get('path', '')!r} not found or is a directory"
        )
    return await _send_file(request, path, 0, -1)


async def readat(request: web.Request) -> web.StreamResponse:
    path = _path(request)
    if not path.is_file():
        raise APIError.bad_request(f"file {request.query.get('path', '')!r} not found")
    try:
        offset = int(request.query.get("offset", "0"))
        limit = int(request.query.get("limit", "-1"))
    except ValueError:
        raise APIError.bad_request("offset and limit must be integers") from None
    if offset < 0:
        raise APIError.bad_request("offset must be a positive value")
    return await _send_file(request, path, offset, limit)


async def _send_file(
    request: web.Request, path: Path, offset: int, limit: int
) -> web.StreamResponse:
    """The file's bytes, streamed chunk by chunk: memory does not grow with its size."""
    resp = web.StreamResponse()
    resp.content_type = "text/plain"
    await resp.prepare(request)
    async for chunk in read_chunks(path, offset, limit):
        await resp.write(chunk)
    await resp.write_eof()
    return resp


def _stream_path(request: web.Request) -> Path:
    """The file `fs/stream` reads, or Nomad's 400 for a path that names none."""
    raw = request.query.get("path", "")
    if not raw:
        raise APIError.bad_request("must provide a file name")
    path = _path(request)
    if not path.exists():
        raise APIError.bad_request(f"stat {raw[:200]}: no such file or directory")
    if path.is_dir():
        raise APIError.bad_request(f'file "{raw[:200]}" is a directory')
    return path


async def stream(request: web.Request) -> web.StreamResponse:
    """`fs/stream`: a file's contents as frames (or plain), following it by default."""
    path = _stream_path(request)
    agent = agent_of(request)
    q = request.query
    origin, offset = origin_offset(q)
    # Nomad's fs/stream follows unless told not to.
    follow = q.get("follow", "true").lower() not in ("false", "0")
    plain = flag(request, "plain")
    size = await file_size(path) or 0
    pos = max(0, size - offset) if origin == "end" else offset
    rel = q.get("path", "").lstrip("/")
    out = await FollowedStream.open(request, plain)
    while True:
        data = await read_chunk(path, pos)
        if data:
            await out.send(data, pos + len(data), rel)
            pos += len(data)
            continue
        if not follow or agent.stopping or await file_size(path) is None:
            break
        await out.idle()
    return await out.close()


ROUTES = (
    routes.get("/v1/client/fs/cat/{alloc}", cat),
    routes.get("/v1/client/fs/readat/{alloc}", readat),
    routes.get("/v1/client/fs/stream/{alloc}", stream),
    routes.get("/v1/client/fs/ls/{alloc}", ls),
    routes.get("/v1/client/fs/stat/{alloc}", stat),
)

"""The client side of Nomad's exec protocol (`nomad alloc exec`).

One WebSocket to `/v1/client/allocation/:id/exec?task=&command=[...]&tty=`; JSON text
frames both ways: we send `{"stdin": {"data": b64}}`, `{"stdin": {"close": true}}` and
`{"tty_size": {"height", "width"}}`; the node answers `{"stdout": {"data": b64}}`,
`{"stderr": {...}}` and finally `{"exited": true, "result": {"exit_code": N}}`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import shutil
import ssl
import sys
import termios
import threading
import tty
from collections.abc import Iterator
from typing import Any, BinaryIO

import aiohttp

from yurt.cli.nomad_http import NomadError, nomad_ssl_context


@contextlib.contextmanager
def _raw_terminal(enabled: bool) -> Iterator[None]:
    if not enabled:
        yield
        return
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    tty.setraw(fd)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


async def _pump_stdin(ws: aiohttp.ClientWebSocketResponse, stdin: BinaryIO) -> None:
    # A daemon thread, not the loop's executor: a read blocked on a terminal must not keep
    # the process alive once the remote command has exited.
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    fd = stdin.fileno()

    def read() -> None:
        while True:
            try:
                data = os.read(fd, 4096)
            except OSError:
                data = b""
            loop.call_soon_threadsafe(queue.put_nowait, data)
            if not data:
                return

    threading.Thread(target=read, name="exec-stdin", daemon=True).start()
    while True:
        data = await queue.get()
        if not data:
            await ws.send_str(json.dumps({"stdin": {"close": True}}))
            return
        await ws.send_str(json.dumps({"stdin": {"data": base64.b64encode(data).decode()}}))


async def run_exec(
    url: str,
    *,
    token: str | None,
    interactive: bool,
    use_tty: bool,
    stdout: BinaryIO,
    stderr: BinaryIO,
) -> int:
    """Runs one exec session; the remote command's exit code."""
    headers = {"X-Nomad-Token": token} if token else {}
    ws_url = "ws" + url[4:] if url.startswith("http") else url
    # https:// -> wss:// with the CLI's TLS settings (NOMAD_CACERT, -client-cert, ...).
    context = nomad_ssl_context(url)
    tls: ssl.SSLContext | bool = context if context is not None else True
    async with aiohttp.ClientSession() as session:
        try:
            ws = await session.ws_connect(ws_url, headers=headers, heartbeat=30, ssl=tls)
        except aiohttp.WSServerHandshakeError as exc:
            # The refusal's reason is in the body, which the handshake error does not keep.
            async with session.get(url, headers=headers, ssl=tls) as resp:
                reason = (await resp.text()).strip() or exc.message
            raise NomadError(
                f"Unexpected response code: {exc.status} ({reason})", exc.status
            ) from None
        except (aiohttp.ClientError, OSError) as exc:
            raise NomadError(f'Get "{url}": {exc}') from None
        async with ws:
            if use_tty:
                size = shutil.get_terminal_size()
                await ws.send_str(
                    json.dumps({"tty_size": {"height": size.lines, "width": size.columns}})
                )
            pump: asyncio.Task[None] | None = None
            if interactive:
                pump = asyncio.create_task(_pump_stdin(ws, sys.stdin.buffer))
            else:
                # A quick command may have run and its node closed the socket already; its
                # frames are still buffered and read below.
                with contextlib.suppress(aiohttp.ClientConnectionResetError):
                    await ws.send_str(json.dumps({"stdin": {"close": True}}))
            code = 0
            exited = False
            try:
                async for msg in ws:
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        break
                    frame: dict[str, Any] = json.loads(msg.data)
                    for key, out in (("stdout", stdout), ("stderr", stderr)):
                        data = (frame.get(key) or {}).get("data")
                        if data:
                            out.write(base64.b64decode(data))
                            out.flush()
                    if frame.get("exited"):
                        exited = True
                        code = int((frame.get("result") or {}).get("exit_code", 0))
                        break
            finally:
                if pump is not None:
                    pump.cancel()
            if not exited:
                raise NomadError("the exec session ended before the command exited")
            return code


def exec_session(url: str, *, token: str | None, interactive: bool, use_tty: bool) -> int:
    with _raw_terminal(use_tty):
        return asyncio.run(
            run_exec(
                url,
                token=token,
                interactive=interactive,
                use_tty=use_tty,
                stdout=sys.stdout.buffer,
                stderr=sys.stderr.buffer,
            )
        )

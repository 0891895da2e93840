"""The listener limits that need TLS: a client that never finishes its TLS handshake is
closed after the header-read timeout (Go takes the shortest of its timeouts for it)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import time
from pathlib import Path

from tests.router.test_tls_listener import make_cert
from yurt.router.limits import Timeouts
from yurt.router.proxy import HTTPProxy, ProxySettings
from yurt.router.table import MATCHERS, PICKERS, Table


async def test_a_stalled_tls_handshake_is_closed(tmp_path: Path) -> None:
    cert, key = make_cert(tmp_path, "site", "site.test")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    settings = ProxySettings(pick=PICKERS["rr"], match=MATCHERS["prefix"])
    proxy = HTTPProxy(settings, ctx, timeouts=Timeouts(header=0.5, idle=5))
    port = await proxy.start("127.0.0.1", 0)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"\x16\x03\x01")  # the start of a ClientHello, and then nothing
        start = time.monotonic()
        data = await asyncio.wait_for(reader.read(), 5)
        elapsed = time.monotonic() - start
        writer.close()
    finally:
        await proxy.stop()
    assert data == b""
    assert 0.3 <= elapsed < 3


async def test_an_endless_response_head_gets_502() -> None:
    """An upstream whose response head never ends (Go's transport stops at 10 MB)."""

    done = asyncio.Event()

    async def endless(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nX-Long: ")
        try:
            for _ in range(12 * 16):  # 12 MB of one header line, and the connection open
                writer.write(b"a" * 65536)
                await writer.drain()
            await done.wait()
        except ConnectionError:
            pass
        writer.close()

    upstream = await asyncio.start_server(endless, "127.0.0.1", 0)
    up_port = upstream.sockets[0].getsockname()[1]
    settings = ProxySettings(pick=PICKERS["rr"], match=MATCHERS["prefix"])
    settings.table = Table.from_text(f"route add svc / http://127.0.0.1:{up_port}/")
    proxy = HTTPProxy(settings)
    port = await proxy.start("127.0.0.1", 0)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        status = await asyncio.wait_for(reader.readline(), 5)
        writer.close()
    finally:
        done.set()
        await proxy.stop()
        upstream.close()
    assert status.startswith(b"HTTP/1.1 502 ")


async def test_a_body_is_not_read_ahead_while_the_upstream_is_dialed() -> None:
    """An upstream whose accept queue is full: the dial hangs, and the router stops reading
    the client's body after a few reads instead of holding all of it."""
    blocked = socket.socket()
    blocked.bind(("127.0.0.1", 0))
    blocked.listen(0)
    fillers = []
    for _ in range(4):  # fill the accept queue: later SYNs are dropped, connects hang
        s = socket.socket()
        s.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            s.connect(blocked.getsockname())
        fillers.append(s)
    await asyncio.sleep(0.2)
    settings = ProxySettings(pick=PICKERS["rr"], match=MATCHERS["prefix"], dial_timeout=6)
    settings.table = Table.from_text(
        f"route add svc / http://127.0.0.1:{blocked.getsockname()[1]}/"
    )
    proxy = HTTPProxy(settings)
    port = await proxy.start("127.0.0.1", 0)
    sent = 0
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"10000\r\n" + b"x" * 65536 + b"\r\n"
        deadline = asyncio.get_running_loop().time() + 2
        with contextlib.suppress(TimeoutError):
            while sent < 256 << 20 and asyncio.get_running_loop().time() < deadline:
                writer.write(chunk)
                await asyncio.wait_for(writer.drain(), deadline - asyncio.get_running_loop().time())
                sent += len(chunk)
        writer.transport.abort()
    finally:
        await proxy.stop()
        for s in fillers:
            s.close()
        blocked.close()
    # Kernel buffers on both sides take some megabytes; the router itself holds 16 reads.
    assert sent < 64 << 20, sent

"""The router's timeouts and connection limits, against a real `yurt router` process: slowloris
heads closed after the header-read timeout, idle keep-alive connections after the idle
timeout, slow bodies and slow exchanges after Fabio's `rt=`/`wt=`, silent TCP clients after
`rt=`, a silent client of a tcp+sni listener after the header timeout, and a client over
`proxy.maxconnsperclient` refused with 429."""

from __future__ import annotations

import contextlib
import selectors
import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.router.hostile_support import (
    RouterProcess,
    closed_within,
    echo_upstream,
    exchange,
    read_reply,
    start_router,
)
from tests.support.process import free_port

HEADER = 0.5  # -proxy.readheadertimeout
IDLE = 0.8  # -proxy.idletimeout
RT = WT = 0.7  # rt=/wt= of the second listener
TCP_RT = 0.6  # rt= of the TCP listener


class _TCPEcho(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(65536):
            self.request.sendall(data)


@dataclass
class Ports:
    router: RouterProcess
    http: int  # header and idle timeouts only (no rt/wt: Fabio's default)
    timed: int  # rt= and wt= as well
    tcp: int  # proto=tcp;rt=
    sni: int  # proto=tcp+sni


@pytest.fixture(scope="module")
def ports(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ports]:
    tcp_echo = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _TCPEcho)
    tcp_echo.daemon_threads = True
    threading.Thread(target=tcp_echo.serve_forever, daemon=True).start()
    http, timed, tcp, sni = (free_port() for _ in range(4))
    listeners = ",".join(
        [
            f"127.0.0.1:{http}",
            f"127.0.0.1:{timed};rt={int(RT * 1000)}ms;wt={int(WT * 1000)}ms",
            f"127.0.0.1:{tcp};proto=tcp;rt={int(TCP_RT * 1000)}ms",
            f"127.0.0.1:{sni};proto=tcp+sni",
        ]
    )
    try:
        with echo_upstream() as up:
            routes = (
                f"route add svc / http://127.0.0.1:{up}/\n"
                f"route add raw :{tcp} tcp://127.0.0.1:{tcp_echo.server_address[1]}"
            )
            router = start_router(
                tmp_path_factory.mktemp("router"),
                routes,
                "-proxy.readheadertimeout",
                f"{int(HEADER * 1000)}ms",
                "-proxy.idletimeout",
                f"{int(IDLE * 1000)}ms",
                proxy_addr=listeners,
            )
            try:
                yield Ports(router, http, timed, tcp, sni)
            finally:
                router.proc.stop(timeout=5)
    finally:
        tcp_echo.shutdown()
        tcp_echo.server_close()


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=5)


def test_slowloris_connections_are_closed_after_the_header_timeout(ports: Ports) -> None:
    n = 200
    socks = [connect(ports.http) for _ in range(n)]
    start = time.monotonic()
    sel = selectors.DefaultSelector()
    for s in socks:
        s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n")
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    closed_at: dict[socket.socket, float] = {}
    replied = 0
    try:
        while len(closed_at) < n and time.monotonic() - start < 5:
            # One more header byte every 100 ms from each: a slowloris never finishes.
            for s in socks:
                if s not in closed_at:
                    with contextlib.suppress(OSError):
                        s.send(b"X")
            for key, _ in sel.select(timeout=0.1):
                s = key.fileobj
                assert isinstance(s, socket.socket)
                try:
                    data = s.recv(65536)
                except OSError:
                    data = b""
                if data:
                    replied += 1
                closed_at[s] = time.monotonic() - start
                sel.unregister(s)
        # The router serves others all the while.
        ok = exchange(ports.http, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    finally:
        sel.close()
        for s in socks:
            s.close()
    assert len(closed_at) == n, f"{n - len(closed_at)} slowloris connections still open"
    assert replied == 0  # as Go's server: closed without a response
    assert min(closed_at.values()) >= HEADER * 0.9
    assert max(closed_at.values()) < HEADER + 2.5
    assert ok is not None and ok.status == 200


def test_idle_keep_alive_connection_is_closed_after_the_idle_timeout(ports: Ports) -> None:
    with connect(ports.http) as s:
        for _ in range(2):
            # Within the idle timeout (and past the header timeout): still served.
            s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
            reply = read_reply(s)
            assert reply is not None and reply.status == 200
            time.sleep(HEADER + 0.1)
        # The second wait used up part of it already.
        elapsed = closed_within(s, IDLE + 3)
    assert elapsed is not None, "the idle connection was not closed"
    assert (HEADER + 0.1) + elapsed >= IDLE * 0.9


def test_a_slow_body_is_cut_by_the_read_timeout(ports: Ports) -> None:
    with connect(ports.timed) as s:
        s.sendall(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n" + b"x" * 10)
        elapsed = closed_within(s, RT + 3)
    assert elapsed is not None and elapsed >= RT * 0.9


def test_a_slow_exchange_is_cut_by_the_write_timeout(ports: Ports) -> None:
    with connect(ports.timed) as s:
        s.sendall(b"GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")  # the upstream takes 2 s
        start = time.monotonic()
        reply = read_reply(s, timeout=WT + 3)
        elapsed = time.monotonic() - start
    assert reply is None  # closed before the response, as Go's WriteTimeout does
    assert WT * 0.9 <= elapsed < 2.0


def test_without_rt_and_wt_a_slow_upstream_is_waited_for(ports: Ports) -> None:
    """Fabio's defaults: no read or write timeout on the listener."""
    reply = exchange(ports.http, b"GET /slow HTTP/1.1\r\nHost: a\r\n\r\n", timeout=5)
    assert reply is not None and reply.status == 200


def test_tcp_rt_closes_a_silent_client_and_spares_a_talking_one(ports: Ports) -> None:
    with connect(ports.tcp) as s:
        for _ in range(4):  # 4 x 0.3 s: longer than rt=, but never silent for as long
            s.sendall(b"ping")
            assert s.recv(16) == b"ping"
            time.sleep(0.3)
        elapsed = closed_within(s, TCP_RT + 3)
    assert elapsed is not None and elapsed >= TCP_RT * 0.5


def test_sni_listener_closes_a_client_that_sends_no_client_hello(ports: Ports) -> None:
    with connect(ports.sni) as s:
        s.sendall(b"\x16\x03")  # the start of a TLS record, and then nothing
        elapsed = closed_within(s, HEADER + 3)
    assert elapsed is not None and elapsed >= HEADER * 0.5


def test_router_is_still_up(ports: Ports) -> None:
    assert ports.router.alive()


def test_connections_over_the_per_client_cap_get_429(tmp_path: Path) -> None:
    with echo_upstream() as up:
        router = start_router(
            tmp_path, f"route add svc / http://127.0.0.1:{up}/", "-proxy.maxconnsperclient", "3"
        )
        try:
            held = [connect(router.proxy_port) for _ in range(3)]
            for s in held:
                s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
                reply = read_reply(s)
                assert reply is not None and reply.status == 200
            over = exchange(router.proxy_port, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
            assert over is not None and over.status == 429
            assert b"too many concurrent connections" in over.body
            assert over.header("Connection") == "close"
            held.pop().close()
            # The count follows closes.
            deadline = time.monotonic() + 5
            while True:
                again = exchange(router.proxy_port, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
                if (again is not None and again.status == 200) or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            assert again is not None and again.status == 200
            for s in held:
                s.close()
        finally:
            router.proc.stop(timeout=5)

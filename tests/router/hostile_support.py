"""What the router's hostile-load tests share: a real upstream, a real `yurt router` process
with static routes, a raw-socket client that reads one response, and the process's RSS."""

from __future__ import annotations

import contextlib
import http.server
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.process import YurtProcess, free_port


class _Echo(http.server.BaseHTTPRequestHandler):
    """Answers every request with the path and the header lines it received, as JSON."""

    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if self.path.startswith("/slow"):
            time.sleep(2)
        body = json.dumps(
            {"path": self.path, "headers": [[k.lower(), v] for k, v in self.headers.items()]}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_OPTIONS = do_PATCH = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


class _QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client (the router) that closes mid-answer is what some tests do


@contextmanager
def echo_upstream() -> Iterator[int]:
    """A threaded HTTP/1.1 server on loopback; yields its port."""
    server = _QuietServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class RouterProcess:
    proc: YurtProcess
    proxy_port: int
    ui_port: int

    @property
    def pid(self) -> int:
        assert self.proc.proc is not None
        return self.proc.proc.pid

    def alive(self) -> bool:
        return self.proc.proc is not None and self.proc.proc.poll() is None


def start_router(tmp: Path, routes: str, *props: str, proxy_addr: str = "") -> RouterProcess:
    """`yurt router` with the static backend, `routes` as its table and `props` as flags;
    on a free port, or on `proxy_addr` (whose first listener is `proxy_port`)."""
    proxy, ui = free_port(), free_port()
    if proxy_addr:
        proxy = int(proxy_addr.split(",")[0].split(";")[0].rsplit(":", 1)[1])
    args = [
        "router",
        "-proxy.addr",
        proxy_addr or f"127.0.0.1:{proxy}",
        "-ui.addr",
        f"127.0.0.1:{ui}",
        "-registry.backend",
        "static",
        "-registry.static.routes",
        routes,
        "-registry.consul.register.enabled",
        "false",
        *props,
    ]
    proc = YurtProcess(
        args, ready_url=f"http://127.0.0.1:{ui}/health", log_path=tmp / "router.log"
    ).start()
    return RouterProcess(proc, proxy, ui)


def vm_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


@dataclass
class Reply:
    status: int
    head: bytes
    body: bytes
    closed: bool  # the server closed the connection after (or instead of) the reply

    def header(self, name: str) -> str | None:
        for line in self.head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == name.lower().encode():
                return v.strip().decode("latin-1")
        return None


def read_reply(sock: socket.socket, timeout: float = 5.0, body: bool = True) -> Reply | None:
    """One response from `sock` (status, head, Content-Length body unless not `body`, as
    for HEAD), or None when the connection closed (or stayed silent for `timeout`) before
    a whole head came."""
    sock.settimeout(timeout)
    buf = b""
    try:
        while b"\r\n\r\n" not in buf:
            data = sock.recv(65536)
            if not data:
                return None
            buf += data
    except (TimeoutError, ConnectionResetError):
        return None
    head, _, rest = buf.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    reply = Reply(status, head, rest, False)
    length = int(reply.header("Content-Length") or 0) if body else 0
    try:
        while len(reply.body) < length:
            data = sock.recv(65536)
            if not data:
                reply.closed = True
                break
            reply.body += data
    except (TimeoutError, ConnectionResetError):
        reply.closed = True
    return reply


def exchange(port: int, data: bytes, timeout: float = 5.0) -> Reply | None:
    """Send `data` on a new connection and read one response."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        # The reply may have come before the server stopped reading.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(data)
        return read_reply(sock, timeout)


def closed_within(sock: socket.socket, seconds: float) -> float | None:
    """Seconds until the peer closed `sock` (EOF or reset), or None if it stayed open."""
    start = time.monotonic()
    sock.settimeout(seconds)
    try:
        while True:
            if not sock.recv(65536):
                return time.monotonic() - start
    except TimeoutError:
        return None
    except OSError:
        return time.monotonic() - start

"""The API listeners' limits on a real `yurt up -dev`, started with soft = hard = 1,024 open
files (so raising the limit at start changes nothing): slowloris heads and idle keep-alive
connections closed after their timeouts, a catalog client over its connection cap refused
with Consul's 429 while another address is served, blocking queries that outlive every
timeout, and 1,100 idle connections to the catalog that neither stop the scheduler nor the
client's heartbeats, from which the catalog recovers when they close (issue 15, item 2)."""

from __future__ import annotations

import contextlib
import resource
import selectors
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import consul
import nomad
import pytest
import requests

from tests.support.process import YurtProcess, free_port, wait_for

NOFILE = 1024
HEADER = 1.0  # the scheduler's http_read_header_timeout
IDLE = 1.0  # both listeners' http_idle_timeout
CATALOG_CAP = 300


class LimitedYurt(YurtProcess):
    """`yurt up` with soft = hard = NOFILE open files, as a login shell's limit would be if
    the hard limit were that low too."""

    def start(self) -> LimitedYurt:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")

        def limit() -> None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (NOFILE, NOFILE))

        self.proc = subprocess.Popen(
            [sys.executable, "-m", "yurt", *self.args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env,
            start_new_session=True,
            preexec_fn=limit,
        )
        log.close()
        return self


@dataclass
class Stack:
    proc: LimitedYurt
    catalog: int
    scheduler: int

    def url(self, port: int) -> str:
        return f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    # This test holds over 1,100 sockets itself.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    tmp = tmp_path_factory.mktemp("limits")
    ports = {name: free_port() for name in ("catalog", "scheduler", "ui", "proxy")}
    consul_d = tmp / "consul.d"
    consul_d.mkdir()
    # Consul's key, and yurt's timeouts: heads may take 30 s, so that idle flood
    # connections are held for the whole test rather than closed by the header timer.
    (consul_d / "limits.hcl").write_text(
        "limits {\n"
        f"  http_max_conns_per_client = {CATALOG_CAP}\n"
        '  http_read_header_timeout = "30s"\n'
        f'  http_idle_timeout = "{IDLE}s"\n'
        "}\n"
    )
    config = tmp / "agent.hcl"
    config.write_text(
        f"ports {{ http = {ports['scheduler']} }}\n"
        f'consul {{ address = "127.0.0.1:{ports["catalog"]}" }}\n'
        f'catalog {{ config_dir = "{consul_d}" }}\n'
        "limits {\n"
        "  http_max_conns_per_client = 250\n"
        f'  http_read_header_timeout = "{HEADER}s"\n'
        f'  http_idle_timeout = "{IDLE}s"\n'
        "}\n"
        f'router {{\n  proxy_addr = "127.0.0.1:{ports["proxy"]}"\n'
        f'  ui_addr = "127.0.0.1:{ports["ui"]}"\n}}\n'
    )
    proc = LimitedYurt(
        ["up", "-dev", "-config", str(config)],
        ready_url=None,
        log_path=tmp / "yurt.log",
        timeout=60,
    )
    with proc:
        stack = Stack(proc, ports["catalog"], ports["scheduler"])
        try:
            wait_for(lambda: _ok(stack.url(stack.scheduler) + "/v1/agent/health"), 60, "yurt up")
            n = nomad.Nomad(host="127.0.0.1", port=stack.scheduler, timeout=10)
            wait_for(
                lambda: [x for x in n.nodes.get_nodes() if x["Status"] == "ready"],
                60,
                "a ready client node",
            )
        except AssertionError:
            raise AssertionError(proc.log()) from None
        yield stack
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def _ok(url: str) -> bool:
    try:
        return requests.get(url, timeout=5).ok
    except requests.RequestException:
        return False


def _connect(port: int, source: str = "127.0.0.1") -> socket.socket:
    s = socket.socket()
    s.bind((source, 0))
    s.settimeout(5)
    s.connect(("127.0.0.1", port))
    return s


def _closed_times(socks: list[socket.socket], limit: float, trickle: bytes = b"") -> list[float]:
    """Seconds until the server closed each socket (inf if not within `limit`); `trickle`
    is sent to every open socket every 0.25 s, as a slowloris does."""
    start = time.monotonic()
    sel = selectors.DefaultSelector()
    for s in socks:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    closed: dict[socket.socket, float] = {}
    next_trickle = start + 0.25
    while len(closed) < len(socks) and time.monotonic() - start < limit:
        for key, _ in sel.select(0.05):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            try:
                data = sock.recv(4096)
            except (ConnectionResetError, BlockingIOError):
                data = b""
            if not data:
                closed[sock] = time.monotonic() - start
                sel.unregister(sock)
        if trickle and time.monotonic() >= next_trickle:
            next_trickle += 0.25
            for s in socks:
                if s not in closed:
                    with contextlib.suppress(OSError):
                        s.send(trickle)
    sel.close()
    return [closed.get(s, float("inf")) for s in socks]


def test_200_slowloris_heads_are_closed_after_the_header_timeout(stack: Stack) -> None:
    socks = [_connect(stack.scheduler) for _ in range(200)]
    for s in socks:
        s.send(b"GET /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    # The scheduler answers others while they trickle.
    assert _ok(stack.url(stack.scheduler) + "/v1/jobs")
    times = _closed_times(socks, limit=HEADER + 4, trickle=b"X-a: b\r\n")
    for s in socks:
        s.close()
    assert max(times) < HEADER + 2.0, sorted(times)[-5:]
    assert min(times) > HEADER * 0.6, sorted(times)[:5]


@pytest.mark.parametrize("listener", ["scheduler", "catalog"])
def test_an_idle_keep_alive_connection_is_closed_after_the_idle_timeout(
    stack: Stack, listener: str
) -> None:
    port = getattr(stack, listener)
    path = "/v1/agent/health" if listener == "scheduler" else "/v1/status/leader"
    s = _connect(port)
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    assert s.recv(4096).startswith(b"HTTP/1.1 200")
    (took,) = _closed_times([s], limit=IDLE + 4)
    s.close()
    assert IDLE * 0.6 < took < IDLE + 2.0


def test_a_catalog_client_over_its_cap_gets_consuls_429_and_others_are_served(
    stack: Stack,
) -> None:
    held = [_connect(stack.catalog) for _ in range(CATALOG_CAP)]
    try:
        time.sleep(0.3)
        extra = _connect(stack.catalog)
        refused = extra.recv(4096)
        extra.close()
        assert refused.startswith(b"HTTP/1.1 429 Too Many Requests"), refused[:100]
        assert b"Your IP is issuing too many concurrent connections" in refused
        assert b"http_max_conns_per_client" in refused
        other = _connect(stack.catalog, "127.0.0.2")
        other.sendall(b"GET /v1/status/leader HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert other.recv(4096).startswith(b"HTTP/1.1 200")
        other.close()
    finally:
        for s in held:
            s.close()
    # Closed connections are released: 127.0.0.1 is served again.
    wait_for(lambda: _ok(stack.url(stack.catalog) + "/v1/status/leader"), 5, "the catalog")


def test_blocking_queries_outlive_the_header_and_idle_timeouts(stack: Stack) -> None:
    c = consul.Consul(host="127.0.0.1", port=stack.catalog, connections_timeout=30)
    c.kv.put("limits/probe", "1")
    index, _ = c.kv.get("limits/probe")
    jobs = requests.get(stack.url(stack.scheduler) + "/v1/jobs", timeout=10)
    nomad_index = jobs.headers["X-Nomad-Index"]
    took: dict[str, float] = {}
    answers: dict[str, Any] = {}

    def catalog() -> None:
        start = time.monotonic()
        answers["catalog"] = c.kv.get("limits/probe", index=index, wait="5s")
        took["catalog"] = time.monotonic() - start

    def scheduler() -> None:
        start = time.monotonic()
        resp = requests.get(
            stack.url(stack.scheduler) + f"/v1/jobs?index={nomad_index}&wait=5s", timeout=30
        )
        answers["scheduler"] = resp.status_code
        took["scheduler"] = time.monotonic() - start

    threads = [threading.Thread(target=catalog), threading.Thread(target=scheduler)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    # Jittered by up to wait/16, as the products do.
    assert took["catalog"] > 4.5 and took["scheduler"] > 4.5, took
    assert answers["scheduler"] == 200
    _, entry = answers["catalog"]
    assert entry is not None and entry["Value"] == b"1"


def test_1100_idle_catalog_connections_stop_neither_the_scheduler_nor_heartbeats(
    stack: Stack,
) -> None:
    n = nomad.Nomad(host="127.0.0.1", port=stack.scheduler, timeout=10)
    log_before = len(stack.proc.log_path.read_bytes())
    sources = ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"]  # 275 each, under the cap
    flood: list[socket.socket] = []
    try:
        for i in range(1100):
            flood.append(_connect(stack.catalog, sources[i % len(sources)]))
        time.sleep(0.5)
        # Which ones the catalog closed at once (the descriptor reserve) and which it holds.
        closed = [t for t in _closed_times(flood, limit=1.0) if t != float("inf")]
        held = len(flood) - len(closed)
        assert closed, "the catalog accepted all 1,100 with 1,024 descriptors"
        assert 600 < held < NOFILE, held
        # While they are held, for longer than a heartbeat interval: the other listeners
        # answer and the client's heartbeats go through.
        deadline = time.monotonic() + 7
        while time.monotonic() < deadline:
            assert requests.get(stack.url(stack.scheduler) + "/v1/jobs", timeout=5).ok
            time.sleep(0.5)
        nodes = n.nodes.get_nodes()
        assert nodes and all(node["Status"] == "ready" for node in nodes), nodes
    finally:
        for s in flood:
            s.close()
    log = stack.proc.log_path.read_bytes()[log_before:].decode(errors="replace")
    assert "heartbeat failed" not in log and "Too many open files" not in log, log[-3000:]
    assert "refusing connections" in log  # logged once per burst
    assert log.count("refusing connections") < 5, log.count("refusing connections")
    # The catalog recovers when they close.
    wait_for(lambda: _ok(stack.url(stack.catalog) + "/v1/status/leader"), 10, "the catalog")
    c = consul.Consul(host="127.0.0.1", port=stack.catalog, connections_timeout=10)
    c.kv.put("limits/after", "ok")
    assert c.kv.get("limits/after")[1]["Value"] == b"ok"

"""The catalog at scale with the router running: `yurt up -dev`, then N services x K
instances registered through `/v1/catalog/register` (each instance with a passing check and
a `urlprefix-` tag), measuring

- registrations per second (16 writers) while the router keeps its table in step;
- the time from the last registration until the router's table holds every instance;
- one health change (a check turned critical, then passing) through to the proxy: the time
  until the proxy stops routing the service (404) and routes it again (502: the instances
  point at a closed port), median and p99 over repeated changes;
- the RSS of `yurt up` and its children (the router runs as one) per registered instance,
  when the table is complete and again 15 s later, settled (each process gives
  its free heap back once quiet, `yurt/heap.py`).

Everything runs inside a private network namespace (`unshare -n`, loopback only) so that
the default ports meet nothing else on the machine.

    .venv/bin/python bench/catalog_scale.py            # 1,000 services x 3 (under 3 minutes)
    .venv/bin/python bench/catalog_scale.py --big      # 10,000 services x 3
    .venv/bin/python bench/catalog_scale.py --services 2000 --instances 2
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import aiohttp

CATALOG = "http://127.0.0.1:8500"
PROXY = "http://127.0.0.1:9999"
ADMIN = "http://127.0.0.1:9998"
NODES = 100
WRITERS = 16
REGISTER_TIMEOUT_S = 600.0  # a catalog that stops answering ends the run
SETTLE_S = 15.0  # the router reads every service again after a burst, then is quiet


def _in_namespace(argv: list[str]) -> None:
    """Run this script again inside a fresh network namespace with loopback up."""
    if shutil.which("unshare") is None:
        raise SystemExit("needs unshare (util-linux) and root: the default ports are used")
    inner = [sys.executable, os.path.abspath(__file__), "--inside", *argv]
    script = "ip link set lo up && exec " + " ".join(_quote(a) for a in inner)
    raise SystemExit(subprocess.call(["unshare", "-n", "sh", "-c", script]))


def _quote(arg: str) -> str:
    return "'" + arg.replace("'", "'\\''") + "'"


def _wait_port(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on :{port} after {timeout:.0f} s")


def _tree(pid: int) -> Iterator[int]:
    """A process and its children (those still there)."""
    pids = [pid]
    while pids:
        p = pids.pop()
        yield p
        try:
            with open(f"/proc/{p}/task/{p}/children") as f:
                pids.extend(int(c) for c in f.read().split())
        except OSError:
            continue


def cpu_s(pid: int) -> float:
    """The CPU time (user + system) a process and its children used so far, in seconds:
    on a shared machine it says what a phase cost better than wall time does."""
    total = 0
    for p in _tree(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rpartition(")")[2].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return total / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    """The RSS of a process and its children, in MB."""
    total = 0
    for p in _tree(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def registration(i: int, k: int) -> dict[str, Any]:
    sid = f"svc{i}-{k}"
    node = f"node-{(i * 7 + k) % NODES}"
    return {
        "Node": node,
        "Address": f"10.1.{(i * 7 + k) % NODES}.1",
        "Service": {
            "ID": sid,
            "Service": f"svc{i}",
            "Tags": [f"urlprefix-/svc{i}"],
            # one target per instance (a router keeps one of equal targets), each a closed
            # port: a routed request answers 502, an unrouted one 404
            "Address": f"127.0.0.{1 + k}",
            "Port": 9,
        },
        "Check": {
            "CheckID": f"{sid}:alive",
            "Name": "alive",
            "ServiceID": sid,
            "Status": "passing",
        },
    }


class _Registrar(asyncio.Protocol):
    """One keep-alive connection sending the prepared registrations of `queue`, one at a
    time, each after the last one's answer: a few microseconds a request on this side, so
    that the load generator leaves the machine's two cores to what it measures (an aiohttp
    client spent about as much CPU per registration as the catalog answering it)."""

    def __init__(self, queue: list[bytes], done: asyncio.Future[None]) -> None:
        self._queue = queue
        self._done = done
        self._buf = b""
        self._transport: asyncio.Transport | None = None
        self._in_flight = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # uvloop's is no subclass
        self._next()

    def _next(self) -> None:
        assert self._transport is not None
        self._in_flight = bool(self._queue)
        if self._queue:
            self._transport.write(self._queue.pop())
        elif not self._done.done():
            self._done.set_result(None)

    def data_received(self, data: bytes) -> None:
        self._buf += data
        while True:
            head_end = self._buf.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self._buf[:head_end].decode("latin-1")
            length = 0
            for line in head.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            end = head_end + 4 + length
            if len(self._buf) < end:
                return
            answer, self._buf = self._buf[:end], self._buf[end:]
            if not head.startswith("HTTP/1.1 200"):
                if not self._done.done():
                    self._done.set_exception(SystemExit(f"a registration: {answer[:300]!r}"))
                return
            self._next()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._done.done() and (self._in_flight or self._queue):
            self._done.set_exception(SystemExit(f"the catalog closed a connection: {exc}"))


def registration_request(body: dict[str, Any]) -> bytes:
    payload = json.dumps(body).encode()
    return (
        b"PUT /v1/catalog/register HTTP/1.1\r\nHost: 127.0.0.1:8500\r\n"
        b"Content-Type: application/json\r\nContent-Length: "
        + str(len(payload)).encode()
        + b"\r\n\r\n"
        + payload
    )


async def register_all(services: int, instances: int) -> float:
    """Registers every instance with WRITERS writers; returns registrations per second."""
    queue = [
        registration_request(registration(i, k)) for i in range(services) for k in range(instances)
    ]
    queue.reverse()
    loop = asyncio.get_running_loop()
    finished: list[asyncio.Future[None]] = []
    started = time.perf_counter()
    transports = []
    try:
        for _ in range(WRITERS):
            done: asyncio.Future[None] = loop.create_future()
            transport, _ = await loop.create_connection(
                lambda d=done: _Registrar(queue, d), "127.0.0.1", 8500
            )
            transports.append(transport)
            finished.append(done)
        await asyncio.wait_for(asyncio.gather(*finished), REGISTER_TIMEOUT_S)
    finally:
        for transport in transports:
            transport.close()
    return services * instances / (time.perf_counter() - started)


async def routed_targets(http: aiohttp.ClientSession) -> int:
    async with http.get(ADMIN + "/api/routes") as r:
        body = await r.read()
    return len(json.loads(body) or [])


async def proxy_status(http: aiohttp.ClientSession, path: str) -> int:
    async with http.get(PROXY + path) as r:
        await r.read()
        return r.status


async def until(probe: Any, want: Any, timeout: float, every: float = 0.002) -> float:
    started = time.perf_counter()
    deadline = started + timeout
    while time.perf_counter() < deadline:
        if await probe() == want:
            return time.perf_counter() - started
        await asyncio.sleep(every)
    return float("inf")


async def health_flips(
    http: aiohttp.ClientSession, rounds: int, quiet_s: float = 0.0
) -> list[float]:
    """A one-instance service's check turned critical and back: the time each change
    takes to reach the proxy. With `quiet_s`, each change comes that long after the last
    one reached the proxy (a lone change); without, at once (changes streaming in, which
    the router paces)."""
    body = registration(10_000_000, 0)
    body["Service"]["Service"] = "flip"
    body["Service"]["Tags"] = ["urlprefix-/flip"]
    async with http.put(CATALOG + "/v1/catalog/register", json=body) as r:
        assert r.status == 200
    await until(lambda: proxy_status(http, "/flip"), 502, 60)
    times: list[float] = []
    for n in range(rounds):
        await asyncio.sleep(quiet_s)
        status = "critical" if n % 2 == 0 else "passing"
        body["Check"]["Status"] = status
        async with http.put(CATALOG + "/v1/catalog/register", json=body) as r:
            assert r.status == 200
        times.append(
            await until(lambda: proxy_status(http, "/flip"), 404 if n % 2 == 0 else 502, 30)
        )
    return times


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


async def measure(services: int, instances: int, pid: int, rounds: int) -> dict[str, Any]:
    conn = aiohttp.TCPConnector(limit=64)
    async with aiohttp.ClientSession(connector=conn) as http:
        rss0 = rss_mb(pid)
        cpu0 = cpu_s(pid)
        rate = await register_all(services, instances)
        last = time.perf_counter()
        cpu_per_registration = (cpu_s(pid) - cpu0) / (services * instances)
        want = services * instances
        # A marker service registered after the last one: the router reads the catalog in
        # index order (each whole-catalog answer is a snapshot, and a build reads every
        # service whose checks it saw change), so once the proxy routes the marker (502:
        # its closed port), the table holds every earlier instance. The marker is polled
        # through the proxy, which costs the router nothing; asking for the whole table
        # (/api/routes: 30,000 entries, a third of a second to answer) while it catches up
        # would slow what is measured. The count confirms it, and is polled on if short.
        marker = registration(services, 0)
        marker["Service"]["Service"] = marker["Service"]["ID"] = "zz-marker"
        marker["Service"]["Tags"] = ["urlprefix-/zz-marker"]
        marker["Check"]["ServiceID"] = "zz-marker"
        marker["Check"]["CheckID"] = "zz-marker:alive"
        async with http.put(CATALOG + "/v1/catalog/register", json=marker) as r:
            assert r.status == 200
        await until(lambda: proxy_status(http, "/zz-marker"), 502, 600)
        complete_s = time.perf_counter() - last
        got = await routed_targets(http) - 1
        while got < want and time.perf_counter() - last < 600:
            await asyncio.sleep(0.5)
            got = await routed_targets(http) - 1
            complete_s = time.perf_counter() - last
        rss_complete = rss_mb(pid)
        # once quiet, each process gives its free heap back (yurt/heap.py): what it keeps
        await asyncio.sleep(SETTLE_S)
        rss1 = rss_mb(pid)
        flips = await health_flips(http, rounds)
        lone = await health_flips(http, max(4, rounds // 4), quiet_s=1.5)
    return {
        "services": services,
        "instances": want,
        "registrations_per_s": rate,
        "cpu_ms_per_registration": cpu_per_registration * 1000,
        "table_complete_s": complete_s,
        "table_targets": got,
        "health_to_proxy_p50_ms": _pct(flips, 0.5) * 1000,
        "health_to_proxy_p99_ms": _pct(flips, 0.99) * 1000,
        "lone_health_to_proxy_p50_ms": _pct(lone, 0.5) * 1000,
        "lone_health_to_proxy_max_ms": max(lone) * 1000,
        "rss_start_mb": rss0,
        "rss_complete_mb": rss_complete,
        "rss_end_mb": rss1,
        "kb_per_instance": (rss1 - rss0) * 1024 / want,
    }


def run_inside(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as data_dir:
        env = {**os.environ, "YURT_LOG_LEVEL": "WARNING"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "yurt", "up", "-data-dir", data_dir],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            for port in (8500, 9998, 9999):
                _wait_port(port, 60)
            time.sleep(1.0)
            coro = measure(args.services, args.instances, proc.pid, args.rounds)
            try:
                import uvloop
            except ImportError:
                return asyncio.run(coro)
            return uvloop.run(coro)  # type: ignore[no-any-return]
        finally:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def print_result(r: dict[str, Any]) -> None:
    print(f"{'services x instances':<44} {r['services']:,} x {r['instances'] // r['services']:,}")
    print(f"{'registrations/s (16 writers, router running)':<44} {r['registrations_per_s']:,.0f}")
    print(f"{'catalog+router CPU per registration':<44} {r['cpu_ms_per_registration']:.2f} ms")
    print(
        f"{'table complete after the last one':<44} {r['table_complete_s']:.2f} s"
        f" ({r['table_targets']:,} targets)"
    )
    print(
        f"{'health changes in a row -> proxy, p50 / p99':<44} "
        f"{r['health_to_proxy_p50_ms']:.0f} / {r['health_to_proxy_p99_ms']:.0f} ms"
    )
    print(
        f"{'a lone health change -> proxy, p50 / max':<44} "
        f"{r['lone_health_to_proxy_p50_ms']:.0f} / {r['lone_health_to_proxy_max_ms']:.0f} ms"
    )
    print(
        f"{'RSS start -> complete -> settled':<44} {r['rss_start_mb']:.0f} -> "
        f"{r['rss_complete_mb']:.0f} -> {r['rss_end_mb']:.0f} MB"
    )
    print(f"{'RSS settled, per instance':<44} {r['kb_per_instance']:.1f} KB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--big", action="store_true", help="10,000 services x 3 instances")
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--instances", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=20, help="health changes timed")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.big:
        args.services = 10_000
    if not args.inside:
        _in_namespace(sys.argv[1:])
    result = run_inside(args)
    if args.json:
        print(json.dumps(result))
    else:
        print_result(result)


if __name__ == "__main__":
    main()

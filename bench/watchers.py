"""Many blocked watchers, woken by one write: how long until each has its answer.

The watchers are raw HTTP/1.1 connections driven by asyncio protocols (on uvloop when
installed), so that the measuring side costs a few microseconds per answer: an aiohttp
client in one Python process spends more per response than the server it measures, and
would time itself. Used by bench/catalog.py, bench/compare.py and run alone:

    .venv/bin/python bench/watchers.py --catalog 127.0.0.1:8500 --watchers 1000
    .venv/bin/python bench/watchers.py --scheduler 127.0.0.1:4646 --watchers 1000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
import urllib.request
from collections.abc import Awaitable, Callable

PER_ADDRESS = 80
# With the server's PID known, its CPU time from the write until the last watcher's answer,
# per watcher, one entry per round: the wake-up's own cost, without the parking.
SERVER_PID = 0
WAKE_CPU: list[float] = []


class _Watcher(asyncio.Protocol):
    """One parked GET: notes when its whole answer (headers and Content-Length body) came."""

    def __init__(self, request: bytes, done: asyncio.Future[float]) -> None:
        self._request = request
        self._done = done
        self._buf = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport) or hasattr(transport, "write")
        self.transport = transport  # type: ignore[assignment]
        transport.write(self._request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        self._buf += data
        head_end = self._buf.find(b"\r\n\r\n")
        if head_end < 0 or self._done.done():
            return
        length = 0
        for line in self._buf[:head_end].split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        if len(self._buf) >= head_end + 4 + length:
            self._done.set_result(time.perf_counter())

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._done.done():
            self._done.set_result(-1.0)  # closed before the answer: counted as a failure


def current_index(base: str, path: str, header: str) -> str:
    with urllib.request.urlopen(base + path, timeout=10) as r:
        return str(r.headers[header])


async def wake_times(
    host: str,
    port: int,
    path_with_index: str,
    write: Callable[[], Awaitable[None]],
    watchers: int,
    settle_s: float | None = None,
) -> list[float]:
    """Park `watchers` GETs of `path_with_index` (which carries `index=` and `wait=`), run
    `write` once, and return each watcher's seconds from the write's answer to its own."""
    loop = asyncio.get_running_loop()
    request = f"GET {path_with_index} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
    futures: list[asyncio.Future[float]] = []
    transports: list[asyncio.BaseTransport] = []
    for i in range(watchers):
        fut: asyncio.Future[float] = loop.create_future()
        # Both products cap connections per client address (Consul 200, Nomad 100): the
        # watchers come from many loopback addresses, at most PER_ADDRESS from each.
        k = i // PER_ADDRESS
        source = (f"127.1.{k // 250}.{k % 250 + 1}", 0)
        transport, _ = await loop.create_connection(
            lambda f=fut: _Watcher(request, f), host, port, local_addr=source
        )
        transports.append(transport)
        futures.append(fut)
    await asyncio.sleep(settle_s if settle_s is not None else 0.5 + watchers / 2000)
    early = sum(1 for f in futures if f.done())
    if early:
        for t in transports:
            t.close()
        raise SystemExit(
            f"{early} of {watchers} watchers of {host}:{port}{path_with_index} answered (or "
            "were closed) before the write"
        )
    cpu0 = cpu_seconds(SERVER_PID) if SERVER_PID else 0.0
    start = time.perf_counter()
    await write()
    try:
        answered = await asyncio.wait_for(asyncio.gather(*futures), 60)
    finally:
        if SERVER_PID:
            WAKE_CPU.append((cpu_seconds(SERVER_PID) - cpu0) / watchers)
        for t in transports:
            t.close()
    failed = sum(1 for t in answered if t < 0)
    if failed:
        raise SystemExit(f"{failed} of {watchers} watchers were closed without an answer")
    return sorted(t - start for t in answered)


async def settled_index(base: str, path: str, header: str) -> str:
    """The read's index once the last write's follow-ups (evaluations, status changes)
    have stopped moving it for a moment."""
    index = current_index(base, path, header)
    while True:
        await asyncio.sleep(0.3)
        again = current_index(base, path, header)
        if again == index:
            return index
        index = again


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of process `pid` so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def summary(times: list[float]) -> dict[str, float]:
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    return {
        "median_ms": statistics.median(times) * 1000,
        "p99_ms": p99 * 1000,
        "max_ms": times[-1] * 1000,
    }


async def _put(host: str, port: int, path: str, body: bytes) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(
        f"PUT {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n".encode()
        + body
    )
    status = (await reader.readline()).split()
    await reader.read()
    writer.close()
    if len(status) < 2 or status[1] != b"200":
        raise SystemExit(f"PUT {path}: {status!r}")


async def catalog_kv(host: str, port: int, watchers: int, rounds: int) -> list[float]:
    """One KV write waking `watchers` readers of that key, over `rounds` rounds."""
    base = f"http://{host}:{port}"
    await _put(host, port, "/v1/kv/bench/watched", b"0")
    times: list[float] = []
    for i in range(rounds):
        index = current_index(base, "/v1/kv/bench/watched", "X-Consul-Index")
        path = f"/v1/kv/bench/watched?index={index}&wait=60s"
        body = str(i + 1).encode()
        times += await wake_times(
            host, port, path, lambda b=body: _put(host, port, "/v1/kv/bench/watched", b), watchers
        )
    return sorted(times)


def _unplaceable_job(job_id: str) -> bytes:
    job = {
        "Job": {
            "ID": job_id,
            "Name": "watched",
            "Type": "batch",
            # placed nowhere: no allocation then changes the job list after the write
            "Datacenters": ["bench-nowhere"],
            "TaskGroups": [
                {
                    "Name": "g",
                    "Count": 1,
                    "Tasks": [
                        {
                            "Name": "t",
                            "Driver": "raw_exec",
                            "Config": {"command": "/bin/true"},
                            "Resources": {"CPU": 10, "MemoryMB": 10},
                        }
                    ],
                }
            ],
        }
    }
    return json.dumps(job).encode()


async def scheduler_jobs(host: str, port: int, watchers: int, rounds: int) -> list[float]:
    """One job registration waking `watchers` readers of `/v1/jobs`, over `rounds` rounds."""
    base = f"http://{host}:{port}"
    # An empty job table has index 0 in Nomad, and index=0 does not block: one job first.
    await _put(host, port, "/v1/jobs", _unplaceable_job(f"watched-seed-{time.monotonic_ns()}"))
    times: list[float] = []
    for i in range(rounds):
        index = await settled_index(base, "/v1/jobs", "X-Nomad-Index")
        path = f"/v1/jobs?index={index}&wait=60s"
        body = _unplaceable_job(f"watched-{i}-{time.monotonic_ns()}")
        times += await wake_times(
            host, port, path, lambda b=body: _put(host, port, "/v1/jobs", b), watchers
        )
    return sorted(times)


def _run(coro: Awaitable[list[float]]) -> list[float]:
    try:
        import uvloop

        return uvloop.run(coro)  # type: ignore[arg-type,no-any-return]
    except ImportError:
        return asyncio.run(coro)  # type: ignore[arg-type]


def measure(
    kind: str, address: str, watchers: int, rounds: int, pid: int | None = None
) -> dict[str, float]:
    """The wake-up times, and with `pid` (the server's) its CPU per woken watcher, which
    other load on the machine does not inflate as it does the times."""
    host, _, port = address.rpartition(":")
    fn = catalog_kv if kind == "catalog" else scheduler_jobs
    global SERVER_PID
    SERVER_PID = pid or 0
    WAKE_CPU.clear()
    cpu0 = cpu_seconds(pid) if pid else 0.0
    result = summary(_run(fn(host, int(port), watchers, rounds)))
    if pid:
        # parking costs CPU too: this is the whole round (park, write, wake) per watcher
        result["cpu_us_per_watcher"] = (cpu_seconds(pid) - cpu0) / (watchers * rounds) * 1e6
        result["wake_cpu_us_per_watcher"] = statistics.median(WAKE_CPU) * 1e6
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalog", help="HOST:PORT of a Consul-compatible catalog")
    parser.add_argument("--scheduler", help="HOST:PORT of a Nomad-compatible server")
    parser.add_argument("--watchers", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--catalog-pid", type=int, help="the catalog's PID: report its CPU")
    parser.add_argument("--scheduler-pid", type=int, help="the scheduler's PID: its CPU")
    args = parser.parse_args()
    for kind, address, pid in (
        ("catalog", args.catalog, args.catalog_pid),
        ("scheduler", args.scheduler, args.scheduler_pid),
    ):
        if address:
            r = measure(kind, address, args.watchers, args.rounds, pid)
            cpu = (
                f", server CPU {r['cpu_us_per_watcher']:.0f} us/watcher"
                f" ({r['wake_cpu_us_per_watcher']:.0f} us of it waking)"
                if pid
                else ""
            )
            print(
                f"{kind} {address}: {args.watchers} watchers, median {r['median_ms']:.1f} ms, "
                f"p99 {r['p99_ms']:.1f} ms, max {r['max_ms']:.1f} ms{cpu}"
            )


if __name__ == "__main__":
    main()

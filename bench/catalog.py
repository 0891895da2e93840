"""The catalog's throughput and blocking-query wake-up time, against a real `yurt catalog`.

Prints service registrations per second, KV writes per second, reads per second, and the time
from one write to all of N blocked watchers answering (median, p99, max), for KV and health
watchers.

.venv/bin/python bench/catalog.py [-seconds 3] [-watchers 1000] [-concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable

import aiohttp


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_catalog(data_dir: str, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "YURT_LOG_LEVEL": "WARNING"}
    # Consul's default of 200 connections per client address would refuse the watchers.
    config_dir = os.path.join(data_dir, "config")
    os.makedirs(config_dir, exist_ok=True)
    with open(os.path.join(config_dir, "limits.hcl"), "w") as f:
        f.write("limits { http_max_conns_per_client = 50000 }\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "yurt", "catalog", "-http-addr", f"127.0.0.1:{port}",
         "-data-dir", os.path.join(data_dir, "data"), "-node", "bench",
         "-config-dir", config_dir],
        env=env,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("the catalog did not start")


async def throughput(
    op: Callable[[int], Awaitable[None]], seconds: float, concurrency: int
) -> float:
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker(w: int) -> None:
        nonlocal done
        i = 0
        while time.perf_counter() < deadline:
            await op(w * 1_000_000 + i)
            i += 1
            done += 1

    start = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    return done / (time.perf_counter() - start)


async def wake_times(
    http: aiohttp.ClientSession,
    base: str,
    read_path: str,
    write: Callable[[], Awaitable[None]],
    watchers: int,
) -> list[float]:
    """Park `watchers` blocking reads of `read_path`, write once, time each answer."""
    async with http.get(base + read_path) as r:
        index = r.headers["X-Consul-Index"]
    sep = "&" if "?" in read_path else "?"
    url = f"{base}{read_path}{sep}index={index}&wait=60s"
    answered: list[float] = []

    async def watch() -> None:
        async with http.get(url) as r:
            await r.read()
            answered.append(time.perf_counter())

    tasks = [asyncio.create_task(watch()) for _ in range(watchers)]
    await asyncio.sleep(1.0 + watchers / 1000)  # let every request park on the server
    if answered:
        raise SystemExit(f"{len(answered)} watchers answered before the write")
    start = time.perf_counter()
    await write()
    await asyncio.gather(*tasks)
    return sorted(t - start for t in answered)


async def register_service(http: aiohttp.ClientSession, base: str, i: int) -> None:
    """Registration `i` through the agent API: one of 50 services, with a TTL check."""
    body = {
        "Name": f"svc-{i % 50}",
        "ID": f"svc-{i}",
        "Port": 1000 + i % 50000,
        "Tags": ["urlprefix-/x"],
        "Check": {"TTL": "1h"},
    }
    async with http.put(f"{base}/v1/agent/service/register", json=body) as r:
        assert r.status == 200, await r.text()


async def write_key(http: aiohttp.ClientSession, base: str, i: int) -> None:
    """KV write `i`: one of 1000 keys."""
    async with http.put(f"{base}/v1/kv/bench/k{i % 1000}", data=str(i)) as r:
        assert r.status == 200, await r.text()


def fmt_ms(values: list[float]) -> str:
    p99 = values[min(len(values) - 1, int(len(values) * 0.99))]
    return (
        f"{statistics.median(values) * 1000:8.1f} ms {p99 * 1000:8.1f} ms "
        f"{values[-1] * 1000:8.1f} ms"
    )


async def run(args: argparse.Namespace, base: str) -> None:
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def register(i: int) -> None:
            await register_service(http, base, i)

        async def kv_write(i: int) -> None:
            await write_key(http, base, i)

        async def health_read(i: int) -> None:
            async with http.get(f"{base}/v1/health/service/svc-{i % 50}") as r:
                await r.read()

        async def kv_read(i: int) -> None:
            async with http.get(f"{base}/v1/kv/bench/k{i % 1000}") as r:
                await r.read()

        rows = [
            ("service registrations (with a TTL check)", register),
            ("KV writes", kv_write),
            ("KV reads", kv_read),
            ("health/service reads (50 services)", health_read),
        ]
        print(f"{'operation':<44} {'per second':>12}")
        for name, op in rows:
            rate = await throughput(op, args.seconds, args.concurrency)
            print(f"{name:<44} {rate:>12.0f}")

        async with http.put(f"{base}/v1/agent/service/register", json={
            "Name": "watched", "Check": {"CheckID": "watched", "TTL": "1h"}
        }) as r:  # fmt: skip
            assert r.status == 200
        flip = iter(["pass", "fail"] * 100)

        async def kv_change() -> None:
            async with http.put(f"{base}/v1/kv/bench/watched", data=str(time.time())) as r:
                assert r.status == 200

        async def check_flip() -> None:
            async with http.put(f"{base}/v1/agent/check/{next(flip)}/watched") as r:
                assert r.status == 200

        async with http.get(f"{base}/v1/health/state/any") as r:
            checks = len(await r.json())
        print()
        print(f"wake-up of {args.watchers} blocked watchers after one write")
        print(f"(the catalog now holds {checks} checks, all in /v1/health/state/any's answer)")
        print(f"{'watched path':<36} {'median':>11} {'p99':>11} {'max':>11}")
        for label, path, write in [
            ("/v1/kv/bench/watched", "/v1/kv/bench/watched", kv_change),
            ("/v1/health/service/watched", "/v1/health/service/watched", check_flip),
            ("/v1/health/state/any", "/v1/health/state/any", check_flip),
        ]:
            if path.startswith("/v1/kv"):
                await kv_change()
            times: list[float] = []
            for _ in range(args.rounds):
                times.extend(await wake_times(http, base, path, write, args.watchers))
            times.sort()
            print(f"{label:<36} {fmt_ms(times)}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-seconds", "--seconds", type=float, default=3.0)
    parser.add_argument("-watchers", "--watchers", type=int, default=1000)
    parser.add_argument("-concurrency", "--concurrency", type=int, default=16)
    parser.add_argument("-rounds", "--rounds", type=int, default=3)
    args = parser.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        proc = start_catalog(tmp, port)
        try:
            asyncio.run(run(args, f"http://127.0.0.1:{port}"))
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(15)


if __name__ == "__main__":
    main()

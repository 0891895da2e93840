"""Soak bench: hostile and heavy load against a real stack on loopback (issue 15).

It measures, and prints as one table (it asserts nothing):

- memory: the RSS of `yurt up` (every role is one process) before, at its peak and after a
  200 MB request header sent to the router's proxy port, and a 300 MB task file read with
  `fs/cat` through the scheduler's port;
- isolation: the p50/p99/max latency of the catalog (`/v1/status/leader`), the scheduler
  (`/v1/agent/health`), the router UI (`/api/routes`) and the proxy (a route to the
  scheduler) measured from a probe process of its own, at rest, during N idle connections
  to the catalog, during M slowloris connections (a header byte a second) to the proxy, and
  during two hostile job files sent to `PUT /v1/jobs/parse` (`range(20000000)` and a
  1,000 x 1,000 `for`), and during a KV read of K values of 512 KB (`?recurse`, and a
  transaction's `get-tree`). The floods come from 127.0.0.2 to 127.0.0.51, so that each source
  stays under the per-client connection caps and the listeners' own timeouts and
  descriptor reserve are what is measured;
- exactly once: a catalog, a scheduler and a client as separate processes; every round
  registers a job of several allocations and kills the client with SIGKILL at a random
  moment of the placement, then restarts it; each task appends its allocation ID to a file
  when it starts, so the starts per allocation are counted (they must all be 1); after
  `job stop` of every job, processes still carrying `YURT_TASK_MARKER` for this client are
  orphans (they must be 0);
- disk: a scheduler's data directory before and after J register/stop cycles, and after
  `system gc`.

    python bench/soak.py                 # short settings, about 2 minutes
    python bench/soak.py --rounds 50 --hold 20 --kv-keys 2000   # the issue's figures
    python bench/soak.py --only memory,isolation
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import multiprocessing as mp
import os
import random
import resource
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.client.conftest import running_cluster  # noqa: E402
from tests.scheduler.conftest import SchedulerProcess  # noqa: E402
from tests.support.process import YurtProcess, free_port, wait_for  # noqa: E402

from yurt.client.drivers.marker import TASK_VAR, scan  # noqa: E402
from yurt.jobspec import parse_job  # noqa: E402

MB = 1024 * 1024
SOURCES = [f"127.0.0.{i}" for i in range(2, 52)]

ROWS: list[tuple[str, str, str]] = []


def row(section: str, what: str, value: str) -> None:
    ROWS.append((section, what, value))
    print(f"  {section:<11} {what:<58} {value}", flush=True)


def raise_nofile() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@contextlib.contextmanager
def rss_sampled(pid: int) -> Iterator[list[float]]:
    """RSS samples of `pid` every 20 ms while the block runs: [before, ..., after]."""
    samples = [rss_mb(pid)]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.02):
            samples.append(rss_mb(pid))

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield samples
    finally:
        stop.set()
        thread.join()
        time.sleep(0.5)  # let freed buffers go back before the last reading
        samples.append(rss_mb(pid))


def req(
    port: int, method: str, path: str, body: Any = None, timeout: float = 30
) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        data = None if body is None else json.dumps(body).encode()
        conn.request(method, path, body=data)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def status_of(port: int, path: str) -> int:
    """The status of a GET, 0 while nothing answers (a listener not open yet)."""
    try:
        return req(port, "GET", path, timeout=5)[0]
    except OSError:
        return 0


# --- the stack ---------------------------------------------------------------------------


@dataclass
class Up:
    proc: YurtProcess
    catalog: int
    nomad: int
    proxy: int
    ui: int

    @property
    def pid(self) -> int:
        assert self.proc.proc is not None
        return self.proc.proc.pid


@contextlib.contextmanager
def yurt_up(tmp: Path) -> Iterator[Up]:
    catalog, nomad, proxy, ui = free_port(), free_port(), free_port(), free_port()
    tmp.mkdir(parents=True, exist_ok=True)
    config = tmp / "agent.hcl"
    config.write_text(
        f"ports {{ http = {nomad} }}\n"
        'plugin "raw_exec" {\n  config {\n    enabled = true\n  }\n}\n'
        f'consul {{ address = "127.0.0.1:{catalog}" }}\n'
        f'router {{\n  proxy_addr = "127.0.0.1:{proxy}"\n  ui_addr = "127.0.0.1:{ui}"\n}}\n'
    )
    proc = YurtProcess(
        ["up", "-data-dir", str(tmp / "data"), "-config", str(config)],
        ready_url=f"http://127.0.0.1:{nomad}/v1/agent/health",
        log_path=tmp / "up.log",
        timeout=90,
    )
    with proc:
        up = Up(proc, catalog, nomad, proxy, ui)
        # A route through the proxy to the scheduler's health endpoint, with a passing check.
        req(
            catalog,
            "PUT",
            "/v1/agent/service/register",
            {
                "ID": "soak",
                "Name": "soak",
                "Address": "127.0.0.1",
                "Port": nomad,
                "Tags": ["urlprefix-/v1/agent/health"],
                "Check": {"CheckID": "soak-ttl", "TTL": "1h"},
            },
        )
        req(catalog, "PUT", "/v1/agent/check/pass/soak-ttl")
        wait_for(
            lambda: status_of(proxy, "/v1/agent/health") == 200,
            timeout=60,
            what="the proxy route to the scheduler",
        )
        yield up


def run_job(port: int, hcl: str) -> None:
    status, body = req(port, "PUT", "/v1/jobs", {"Job": parse_job(hcl, "soak.nomad")})
    if status != 200:
        raise RuntimeError(f"register: {status} {body[:300]!r}")


def allocs(port: int, job: str) -> list[dict[str, Any]]:
    status, body = req(port, "GET", f"/v1/job/{job}/allocations")
    return list(json.loads(body)) if status == 200 else []


# --- memory ------------------------------------------------------------------------------


def memory(up: Up, header_mb: int, file_mb: int) -> None:
    with rss_sampled(up.pid) as samples:
        sent = 0
        status = "closed without a reply"
        with socket.create_connection(("127.0.0.1", up.proxy), timeout=10) as sock:
            chunk = b"a" * MB
            try:
                sock.sendall(b"GET /v1/agent/health HTTP/1.1\r\nHost: x\r\nX-Big: ")
                for _ in range(header_mb):
                    sock.sendall(chunk)
                    sent += len(chunk)
            except OSError:
                pass
            with contextlib.suppress(OSError):
                first = sock.recv(200)
                if first:
                    status = first.split(b"\r\n", 1)[0].decode("latin-1")
    row(
        "memory",
        f"{header_mb} MB header to the proxy: answer",
        f"{status} after {sent / MB:.0f} MB sent",
    )
    row(
        "memory",
        f"{header_mb} MB header: RSS before / peak / after",
        f"{samples[0]:.0f} / {max(samples):.0f} / {samples[-1]:.0f} MB",
    )

    make_file = f"head -c {file_mb * MB} /dev/zero > local/big.tmp && mv local/big.tmp local/big"
    run_job(
        up.nomad,
        f"""
job "soak-file" {{
  datacenters = ["dc1"]
  group "g" {{
    task "t" {{
      driver = "raw_exec"
      config {{
        command = "/bin/sh"
        args    = ["-c", "{make_file}; exec sleep 3600"]
      }}
    }}
  }}
}}
""",
    )
    alloc = wait_for(
        lambda: next(
            (a for a in allocs(up.nomad, "soak-file") if a["ClientStatus"] == "running"), None
        ),
        timeout=60,
        what="the file job running",
    )
    stat_path = f"/v1/client/fs/stat/{alloc['ID']}?path=t/local/big"
    wait_for(lambda: status_of(up.nomad, stat_path) == 200, timeout=120, what="the file")
    with rss_sampled(up.pid) as samples:
        conn = http.client.HTTPConnection("127.0.0.1", up.nomad, timeout=120)
        start = time.perf_counter()
        conn.request("GET", f"/v1/client/fs/cat/{alloc['ID']}?path=t/local/big")
        resp = conn.getresponse()
        got = 0
        while data := resp.read(MB):
            got += len(data)
        took = time.perf_counter() - start
        conn.close()
    row("memory", f"{file_mb} MB fs/cat: bytes read, time", f"{got / MB:.0f} MB in {took:.1f} s")
    row(
        "memory",
        f"{file_mb} MB fs/cat: RSS before / peak / after",
        f"{samples[0]:.0f} / {max(samples):.0f} / {samples[-1]:.0f} MB",
    )
    # Stopping the task that wrote the file, while probing.
    with probing(up) as during:
        start = time.perf_counter()
        req(up.nomad, "DELETE", "/v1/job/soak-file?purge=true")
        wait_for(
            lambda: not [m for m in scan() if alloc["ID"] in m.value],
            timeout=60,
            what="the file's task stopped",
        )
        took = time.perf_counter() - start
        time.sleep(0.5)
    row("memory", f"stop and purge the {file_mb} MB file's job: task gone after", f"{took:.2f} s")
    report_latency("while purging it", during, "memory")


# --- isolation ---------------------------------------------------------------------------


def _probe(targets: list[tuple[str, int, str]], stop: Any, out: Any) -> None:
    """In a process of its own: one new connection and GET per target every 10 ms."""
    lat: dict[str, list[float]] = {name: [] for name, _, _ in targets}
    errors: Counter[str] = Counter()
    while not stop.is_set():
        for name, port, path in targets:
            start = time.perf_counter()
            try:
                status, _ = req(port, "GET", path, timeout=5)
                if status != 200:
                    errors[name] += 1
            except OSError:
                errors[name] += 1
            lat[name].append(time.perf_counter() - start)
        time.sleep(0.01)
    out.put((lat, dict(errors)))


@contextlib.contextmanager
def probing(up: Up) -> Iterator[dict[str, Any]]:
    targets = [
        ("catalog", up.catalog, "/v1/status/leader"),
        ("scheduler", up.nomad, "/v1/agent/health"),
        ("router ui", up.ui, "/api/routes"),
        ("proxy", up.proxy, "/v1/agent/health"),
    ]
    ctx = mp.get_context("fork")
    stop, out = ctx.Event(), ctx.Queue()
    proc = ctx.Process(target=_probe, args=(targets, stop, out), daemon=True)
    proc.start()
    result: dict[str, Any] = {}
    try:
        yield result
    finally:
        stop.set()
        lat, errors = out.get(timeout=60)
        proc.join(10)
        result.update(lat=lat, errors=errors)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000


def report_latency(phase: str, result: dict[str, Any], section: str = "isolation") -> None:
    for name, values in result["lat"].items():
        if not values:
            continue
        errors = result["errors"].get(name, 0)
        row(
            section,
            f"{phase}: {name}",
            f"p50 {statistics.median(values) * 1000:6.1f}  p99 {_pct(values, 0.99):6.1f}"
            f"  max {max(values) * 1000:7.1f} ms  ({len(values)} req, {errors} failed)",
        )


def open_flood(port: int, count: int) -> list[socket.socket]:
    socks: list[socket.socket] = []
    for i in range(count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind((SOURCES[i % len(SOURCES)], 0))
            s.settimeout(2)
            s.connect(("127.0.0.1", port))
            s.setblocking(False)
            socks.append(s)
        except OSError:
            s.close()
    return socks


def still_open(socks: list[socket.socket]) -> int:
    n = 0
    for s in socks:
        try:
            if s.recv(1, socket.MSG_PEEK):
                n += 1  # an answer (a 408/429) waiting to be read: closing, but still here
        except BlockingIOError:
            n += 1
        except OSError:
            pass
    return n


def isolation(up: Up, idle: int, slowloris: int, hold: float) -> None:
    with probing(up) as rest:
        time.sleep(3)
    report_latency("at rest", rest)

    with probing(up) as during:
        start = time.monotonic()
        socks = open_flood(up.catalog, idle)
        opened = len(socks)
        time.sleep(max(0.0, hold - (time.monotonic() - start)))
        left = still_open(socks)
    for s in socks:
        s.close()
    row(
        "isolation",
        f"{idle} idle to the catalog: opened, open after {hold:.0f} s",
        f"{opened}, {left}",
    )
    report_latency(f"{idle} idle", during)

    with probing(up) as during:
        socks = open_flood(up.proxy, slowloris)
        opened = len(socks)
        for s in socks:
            with contextlib.suppress(OSError):
                s.send(b"GET / HTTP/1.1\r\nHost: x\r\n")
        end = time.monotonic() + hold
        while time.monotonic() < end:
            for s in socks:
                with contextlib.suppress(OSError):
                    s.send(b"X")
            time.sleep(1)
        left = still_open(socks)
    for s in socks:
        s.close()
    row(
        "isolation",
        f"{slowloris} slowloris to the proxy: opened, open after {hold:.0f} s",
        f"{opened}, {left}",
    )
    report_latency(f"{slowloris} slowloris", during)

    hostile = {
        "range(20000000)": 'locals { a = range(20000000) }\njob "x" {}\n',
        "1000 x 1000 for": (
            "locals {\n  a = [for i in range(1000) : [for j in range(1000) : i * j]]\n}\n"
            'job "x" {}\n'
        ),
    }
    for name, hcl in hostile.items():
        with probing(up) as during:
            time.sleep(0.3)
            start = time.perf_counter()
            status, body = req(up.nomad, "PUT", "/v1/jobs/parse", {"JobHCL": hcl}, timeout=60)
            took = time.perf_counter() - start
            time.sleep(0.3)
        row(
            "isolation",
            f"parse {name}: answer",
            f"{status} in {took:.2f} s: {body[:60].decode(errors='replace')}",
        )
        report_latency(f"parse {name}", during)


def kv_read(up: Up, keys: int) -> None:
    value = os.urandom(512 * 1024)  # Consul's kv_max_value_size
    conn = http.client.HTTPConnection("127.0.0.1", up.catalog, timeout=30)
    for i in range(keys):
        conn.request("PUT", f"/v1/kv/soak/{i:05d}", body=value)
        conn.getresponse().read()
    conn.close()
    for name, method, path, body in (
        ("GET /v1/kv/soak/?recurse", "GET", "/v1/kv/soak/?recurse", None),
        ("txn get-tree", "PUT", "/v1/txn", [{"KV": {"Verb": "get-tree", "Key": "soak/"}}]),
    ):
        with probing(up) as during:
            time.sleep(0.3)
            start = time.perf_counter()
            conn = http.client.HTTPConnection("127.0.0.1", up.catalog, timeout=300)
            conn.request(method, path, body=None if body is None else json.dumps(body).encode())
            resp = conn.getresponse()
            size = 0
            while data := resp.read(MB):
                size += len(data)
            conn.close()
            took = time.perf_counter() - start
            time.sleep(0.3)
        row(
            "isolation",
            f"{name} over {keys} x 512 KB: answer",
            f"{resp.status}, {size / MB:.0f} MB in {took:.1f} s",
        )
        report_latency(f"{name} ({keys} keys)", during)
    req(up.catalog, "DELETE", "/v1/kv/soak/?recurse")


# --- exactly once ------------------------------------------------------------------------

ONCE_JOB = """
job "%(job)s" {
  datacenters = ["dc1"]
  group "g" {
    count = %(count)d
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo $NOMAD_ALLOC_ID >> %(starts)s; exec /bin/sleep 3600"]
      }
      resources {
        cpu    = 10
        memory = 10
      }
    }
  }
}
"""


def exactly_once(tmp: Path, rounds: int, per_round: int) -> None:
    starts = tmp / "starts"
    starts.touch()
    rng = random.Random(15)
    jobs: list[str] = []
    with running_cluster(tmp / "cluster") as cluster:
        port = cluster.sched.port
        for n in range(rounds):
            job = f"soak-once-{n}"
            jobs.append(job)
            run_job(port, ONCE_JOB % {"job": job, "count": per_round, "starts": starts})
            time.sleep(rng.uniform(0.0, 1.0))
            cluster.client.proc.kill()
            cluster.client.start()
            wait_for(
                lambda job=job: (
                    sum(a["ClientStatus"] == "running" for a in allocs(port, job)) == per_round
                ),
                timeout=60,
                what=f"{job}: every allocation running",
            )
        # Everything placed is running now: count the starts before stopping anything.
        counts = Counter(starts.read_text().split())
        placed = {a["ID"] for job in jobs for a in allocs(port, job)}
        for job in jobs:
            req(port, "DELETE", f"/v1/job/{job}")
        for job in jobs:
            wait_for(
                lambda job=job: all(
                    a["ClientStatus"] in ("complete", "failed") for a in allocs(port, job)
                ),
                timeout=60,
                what=f"{job} stopped",
            )
        time.sleep(1)
        orphans = [m for m in scan(str(cluster.client.data_dir)) if m.var == TASK_VAR]
    per_alloc = Counter(counts.get(a, 0) for a in placed)
    row("once", "kill -9 rounds x allocations per round", f"{rounds} x {per_round}")
    row(
        "once",
        "tasks started per allocation (count of allocations)",
        ", ".join(f"{k} start{'s' if k != 1 else ''}: {v}" for k, v in sorted(per_alloc.items())),
    )
    row("once", "marked task processes left after job stop", str(len(orphans)))


# --- disk --------------------------------------------------------------------------------


def _du(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / MB


def disk(tmp: Path, cycles: int) -> None:
    sched = SchedulerProcess(tmp / "disk").start()
    try:
        db = sched.data_dir
        before = _du(db)
        for n in range(cycles):
            job = f"cycle-{n}"
            run_job(
                sched.port,
                f'job "{job}" {{\n  datacenters = ["dc1"]\n  group "g" {{\n    task "t" {{\n'
                '      driver = "raw_exec"\n      config { command = "/bin/true" }\n'
                "    }\n  }\n}\n",
            )
            req(sched.port, "DELETE", f"/v1/job/{job}")
        full = _du(db)
        status, _ = req(sched.port, "PUT", "/v1/system/gc")
        time.sleep(2)
        after = _du(db)
        jobs = json.loads(req(sched.port, "GET", "/v1/jobs")[1])
    finally:
        sched.proc.stop()
    row(
        "disk",
        f"scheduler data dir: empty / after {cycles} cycles / after system gc",
        f"{before:.2f} / {full:.2f} / {after:.2f} MB",
    )
    row("disk", "jobs left after system gc", f"{len(jobs)} (gc answered {status})")


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--header-mb", type=int, default=200)
    ap.add_argument("--file-mb", type=int, default=300)
    ap.add_argument("--idle", type=int, default=5000)
    ap.add_argument("--slowloris", type=int, default=1000)
    ap.add_argument("--hold", type=float, default=8.0, help="seconds each flood is held")
    ap.add_argument("--kv-keys", type=int, default=200, help="512 KB values read at once")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--per-round", type=int, default=3)
    ap.add_argument("--cycles", type=int, default=200)
    ap.add_argument("--only", default="memory,isolation,once,disk")
    args = ap.parse_args()
    only = set(args.only.split(","))
    nofile = raise_nofile()
    print(f"soak bench: {os.cpu_count()} CPUs, RLIMIT_NOFILE of the bench {nofile}", flush=True)
    with tempfile.TemporaryDirectory(prefix="yurt-soak-") as tmpdir:
        tmp = Path(tmpdir)
        if only & {"memory", "isolation"}:
            with yurt_up(tmp / "up") as up:
                if "memory" in only:
                    memory(up, args.header_mb, args.file_mb)
                if "isolation" in only:
                    isolation(up, args.idle, args.slowloris, args.hold)
                    kv_read(up, args.kv_keys)
        if "once" in only:
            exactly_once(tmp, args.rounds, args.per_round)
        if "disk" in only:
            disk(tmp, args.cycles)
    print()
    print("| section | what | measured |")
    print("|---|---|---|")
    for section, what, value in ROWS:
        print(f"| {section} | {what} | {value} |")


if __name__ == "__main__":
    main()

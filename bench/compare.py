"""yurt side by side with the products it stands in for, measured in one run.

Runs yurt and the real binaries from ../shared/reference/ (nomad 1.1.2, consul 1.10.11,
fabio 1.6.3) inside a private network namespace (`unshare -n`, loopback only, so the
products' default ports meet nothing else), each against the same load generator, and
prints one table with the ratios:

- router vs Fabio vs nginx direct: requests/s, p99 and CPU per request (wrk -t2, 16 and
  128 connections, a 2 KB page);
- catalog vs Consul -dev: KV writes/s and service registrations/s (16 writers), one KV
  write waking 1,000 and 10,000 blocked watchers (bench/watchers.py), a registration
  reaching the proxy (yurt's router vs Fabio);
- scheduler: one job registration waking 1,000 and 10,000 blocked watchers of /v1/jobs,
  and the seed's job (jobs/job.nginx-raw.nomad) from `job run` to its allocation running,
  `yurt up -dev` vs `nomad agent -dev`; placements/s at 1,000 and 5,000 nodes
  (bench/scheduler.py; yurt only: Nomad's own figure is its published C1M run).

Without the reference folder (or without root for `unshare`) the real-product columns are
skipped, saying so, and yurt is measured alone. Each measurement is short: the whole run
takes 3 to 5 minutes by default on the 2-core machine.

    sudo .venv/bin/python bench/compare.py
    .venv/bin/python bench/compare.py --duration 5 --rounds 3     # the issue's wrk runs
    .venv/bin/python bench/compare.py --only router,watchers       # some sections
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import watchers  # noqa: E402
from tests.support.process import YurtProcess, free_port, wait_http  # noqa: E402

import catalog as catalog_bench  # noqa: E402
import e2e  # noqa: E402
import router as router_bench  # noqa: E402
import scheduler as scheduler_bench  # noqa: E402

SECTIONS = ("router", "catalog", "watchers", "scheduler", "jobs")
CONSUL = "127.0.0.1:8500"
NOMAD = "127.0.0.1:4646"
FABIO_PROXY = "http://127.0.0.1:9999"
FABIO_UI = "127.0.0.1:9998"


class Row:
    """One line of the table: a figure, yurt's value, the real product's, nginx's."""

    def __init__(self, figure: str, yurt: str, real: str = "", nginx: str = "") -> None:
        self.figure, self.yurt, self.real, self.nginx = figure, yurt, real, nginx


class Run:
    """The processes of one comparison, stopped together at the end."""

    def __init__(self, work: Path, reference: Path | None) -> None:
        self.work = work
        self.reference = reference
        self.procs: list[subprocess.Popen[bytes]] = []
        self.yurts: list[YurtProcess] = []
        self.rows: list[Row] = []
        self.consul_pid: int | None = None
        self.fabio_pid: int | None = None
        self.nomad_pid: int | None = None
        self.nginx_worker = 0
        self.propagation: dict[str, list[float]] = {}

    def spawn(self, argv: list[str], log: str) -> subprocess.Popen[bytes]:
        with (self.work / log).open("wb") as out:
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=self.work)
        self.procs.append(proc)
        return proc

    def yurt(self, flags: list[str], ready_url: str, log: str) -> YurtProcess:
        proc = YurtProcess(flags, ready_url=ready_url, log_path=self.work / log).start()
        self.yurts.append(proc)
        return proc

    def real(self, name: str) -> str | None:
        return str(self.reference / name) if self.reference is not None else None

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for y in reversed(self.yurts):
            y.stop(timeout=5)


def pid_of(y: YurtProcess) -> int:
    assert y.proc is not None
    return y.proc.pid


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "-"


# ---- setup -------------------------------------------------------------------------------


def start_nginx(run: Run) -> tuple[int, int]:
    """nginx serving the 2 KB page: (port, worker pid)."""
    (run.work / "www").mkdir()
    (run.work / "www" / "index.html").write_text(
        "<!doctype html><html><body>" + "x" * (2048 - 40) + "</body></html>\n"
    )
    port = free_port()
    conf = run.work / "nginx.conf"
    conf.write_text(router_bench.NGINX_CONF.format(dir=run.work, port=port))
    master = run.spawn(["/usr/sbin/nginx", "-c", str(conf), "-g", "daemon off;"], "nginx.log")
    wait_http(f"http://127.0.0.1:{port}/", proc=master)
    return port, router_bench.nginx_worker(master)


def start_yurt_catalog(run: Run) -> tuple[str, int]:
    addr = f"127.0.0.1:{free_port()}"
    limits = run.work / "catalog-config"
    limits.mkdir()
    (limits / "limits.hcl").write_text("limits { http_max_conns_per_client = 50000 }\n")
    y = run.yurt(
        ["catalog", "-dev", "-http-addr", addr, "-config-dir", str(limits)],
        f"http://{addr}/v1/status/leader",
        "yurt-catalog.log",
    )
    return addr, pid_of(y)


def start_yurt_router(run: Run, catalog: str) -> tuple[str, str, int]:
    proxy, ui = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    y = run.yurt(
        ["router", "-proxy.addr", proxy, "-ui.addr", ui, "-registry.consul.addr", catalog,
         "-registry.consul.register.enabled=false", "-proxy.header.requestid=X-Request-Id"],
        f"http://{ui}/health",
        "yurt-router.log",
    )  # fmt: skip
    return "http://" + proxy, ui, pid_of(y)


def start_consul(run: Run) -> int | None:
    binary = run.real("consul")
    if binary is None:
        return None
    proc = run.spawn(
        [binary, "agent", "-dev", "-client", "127.0.0.1", "-bind", "127.0.0.1",
         "-hcl", "limits { http_max_conns_per_client = 5000 }"],
        "consul.log",
    )  # fmt: skip
    wait_http(f"http://{CONSUL}/v1/status/leader", proc=proc, timeout=60)
    router_bench.time_until(lambda: router_bench.status(f"http://{CONSUL}/v1/kv/x") == 404, 30)
    return proc.pid


def start_fabio(run: Run) -> int | None:
    binary = run.real("fabio")
    if binary is None:
        return None
    proc = run.spawn(
        [binary, "-registry.consul.addr", CONSUL, "-registry.consul.register.addr", FABIO_UI],
        "fabio.log",
    )
    wait_http(f"http://{FABIO_UI}/health", proc=proc, timeout=30)
    return proc.pid


def start_nomad(run: Run) -> int | None:
    binary = run.real("nomad")
    if binary is None:
        return None
    proc = run.spawn(
        [binary, "agent", "-dev", "-bind", "127.0.0.1", "-data-dir", str(run.work / "nomad")],
        "nomad.log",
    )

    def node_ready() -> bool:
        try:
            with urllib.request.urlopen(f"http://{NOMAD}/v1/nodes", timeout=2) as r:
                return any(n.get("Status") == "ready" for n in json.load(r))
        except OSError:
            return False

    router_bench.time_until(node_ready, 60)
    return proc.pid


# ---- sections ----------------------------------------------------------------------------


def section_router(run: Run, args: argparse.Namespace, yurt_catalog: str, nginx: int) -> None:
    nginx_port, nginx_pid = nginx, run.nginx_worker
    proxy, _, router_pid = start_yurt_router(run, yurt_catalog)
    router_bench.Catalog(yurt_catalog).register("bench-nginx", "nginx", nginx_port, ["urlprefix-/"])
    page = "/index.html"
    router_bench.time_until(lambda: router_bench.status(proxy + page) == 200)
    systems = [
        router_bench.System("nginx", f"http://127.0.0.1:{nginx_port}{page}", nginx_pid),
        router_bench.System("yurt", proxy + page, router_pid),
    ]
    if run.fabio_pid is not None:
        router_bench.Catalog(CONSUL).register("bench-nginx", "nginx", nginx_port, ["urlprefix-/"])
        router_bench.time_until(lambda: router_bench.status(FABIO_PROXY + page) == 200, 30)
        systems.append(router_bench.System("fabio", FABIO_PROXY + page, run.fabio_pid))
    for conns in (16, 128):
        for s in systems:
            s.runs, s.cpu = [], []
        for _ in range(args.rounds):
            for s in systems:  # in turns, so that a change of the machine's load hits each
                s.measure(conns, args.duration)
        by = {s.name: s for s in systems}

        def med(s: router_bench.System, i: int) -> float:
            return statistics.median(x[i] for x in s.runs)

        nginx_rps, nginx_p99 = med(by["nginx"], 0), med(by["nginx"], 2)
        yurt_rps, yurt_p99 = med(by["yurt"], 0), med(by["yurt"], 2)
        real_rps = real_p99 = real_cpu = ""
        if "fabio" in by:
            f = by["fabio"]
            real_rps = f"fabio {med(f, 0):,.0f} (yurt {ratio(yurt_rps, med(f, 0))} fabio)"
            real_p99 = f"{med(f, 2):.1f} ms"
            real_cpu = f"{statistics.median(f.cpu):.0f} µs"
        run.rows += [
            Row(
                f"router req/s, {conns} conns (2 KB page)",
                f"{yurt_rps:,.0f} ({ratio(yurt_rps, nginx_rps)} nginx)",
                real_rps,
                f"{nginx_rps:,.0f}",
            ),
            Row(
                f"router p99, {conns} conns",
                f"{yurt_p99:.1f} ms ({ratio(yurt_p99, nginx_p99)} nginx)",
                real_p99,
                f"{nginx_p99:.1f} ms",
            ),
            Row(
                f"router CPU per request, {conns} conns",
                f"{statistics.median(by['yurt'].cpu):.0f} µs",
                real_cpu,
                f"{statistics.median(by['nginx'].cpu):.0f} µs",
            ),
        ]
    _propagation(run, args, yurt_catalog, proxy, nginx_port)


def _propagation(
    run: Run, args: argparse.Namespace, yurt_catalog: str, proxy: str, nginx_port: int
) -> None:
    """A catalog change reaching the proxy: a new service, until its route answers 200."""
    run.propagation.clear()
    for name, catalog, proxy_url in (
        ("yurt", yurt_catalog, proxy),
        *((("fabio", CONSUL, FABIO_PROXY),) if run.fabio_pid is not None else ()),
    ):
        times = []
        for i in range(args.changes):
            path = f"{proxy_url}/prop{i}/index.html"
            t0 = time.perf_counter()
            router_bench.Catalog(catalog).register(
                f"prop-{i}", f"prop{i}", nginx_port, [f"urlprefix-/prop{i} strip=/prop{i}"]
            )
            router_bench.time_until(lambda p=path: router_bench.status(p) == 200, 30)  # type: ignore[misc]
            times.append(time.perf_counter() - t0)
        run.propagation[name] = times
    yurt_p = run.propagation["yurt"]
    real_p = run.propagation.get("fabio")
    run.rows.append(
        Row(
            "registration → routed by the proxy, median / max",
            f"{statistics.median(yurt_p) * 1e3:.0f} / {max(yurt_p) * 1e3:.0f} ms",
            f"consul+fabio {statistics.median(real_p) * 1e3:.0f} / {max(real_p) * 1e3:.0f} ms"
            if real_p
            else "",
        )
    )


async def _throughput(
    base: str, op: Callable[[aiohttp.ClientSession, str, int], Awaitable[None]], seconds: float
) -> float:
    """`op` run by 16 writers for `seconds`: operations per second (bench/catalog.py's)."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        return await catalog_bench.throughput(lambda i: op(http, base, i), seconds, 16)


def section_catalog(run: Run, args: argparse.Namespace, yurt_catalog: str) -> None:
    targets = [("yurt", "http://" + yurt_catalog)]
    if run.consul_pid is not None:
        targets.append(("consul", f"http://{CONSUL}"))
    ops = (
        ("KV writes/s (16 writers)", catalog_bench.write_key),
        ("service registrations/s (16 writers, TTL check)", catalog_bench.register_service),
    )
    for label, op in ops:
        rates: dict[str, list[float]] = {name: [] for name, _ in targets}
        for _ in range(args.rounds):
            for name, base in targets:
                rates[name].append(asyncio.run(_throughput(base, op, args.duration)))
        y = statistics.median(rates["yurt"])
        real = ""
        if "consul" in rates:
            c = statistics.median(rates["consul"])
            real = f"consul {c:,.0f} (yurt {ratio(y, c)})"
        run.rows.append(Row(f"catalog {label}", f"{y:,.0f}", real))


def section_watchers(
    run: Run, kind: str, yurt_addr: str, yurt_pid: int, real_addr: str, real_pid: int | None
) -> None:
    for count, rounds in ((1000, 3), (10000, 1)):
        y = watchers.measure(kind, yurt_addr, count, rounds, yurt_pid)
        real = ""
        if real_pid is not None:
            r = watchers.measure(kind, real_addr, count, rounds, real_pid)
            product = "consul" if kind == "catalog" else "nomad"
            real = (
                f"{product} {r['median_ms']:.0f} / {r['p99_ms']:.0f} ms "
                f"({r['cpu_us_per_watcher']:.0f} µs CPU)"
            )
        what = "one KV write" if kind == "catalog" else "one job registration"
        run.rows.append(
            Row(
                f"{kind}: {what} → {count:,} blocked watchers answered, median / p99",
                f"{y['median_ms']:.0f} / {y['p99_ms']:.0f} ms "
                f"({y['cpu_us_per_watcher']:.0f} µs CPU)",
                real,
            )
        )


def section_scheduler(run: Run, args: argparse.Namespace) -> None:
    published = {1000: "Nomad C1M: 3,750/s with 5 servers (published)"}
    for nodes, allocs in args.scenarios:
        r = scheduler_bench._run_child(nodes, allocs, None)
        run.rows.append(
            Row(
                f"scheduler placements/s, {nodes:,} nodes x {allocs:,} allocs",
                f"{r['placements_per_s']:,.0f} (p99 eval {r['p99_eval_ms']:.0f} ms, "
                f"{r['peak_rss_mb']:.0f} MB)",
                published.get(nodes, ""),
            )
        )


def _until_running(addr: str, job: str, timeout: float = 60) -> None:
    def running() -> bool:
        try:
            with urllib.request.urlopen(f"http://{addr}/v1/job/{job}/allocations", timeout=2) as r:
                return any(a.get("ClientStatus") == "running" for a in json.load(r))
        except OSError:
            return False

    router_bench.time_until(running, timeout)


def _job_run_times(
    run: Run, argv: list[str], env: dict[str, str], addr: str, label: str, n: int
) -> list[float]:
    seed = ROOT / "jobs" / "job.nginx-raw.nomad"
    times = []
    for i in range(n):
        name = f"cmp-{label}-{i}"
        path = e2e.job_variant(seed, name, run.work)
        t0 = time.perf_counter()
        subprocess.run([*argv, "job", "run", "-detach", str(path)], env=env, check=True,
                       capture_output=True, cwd=ROOT)  # fmt: skip
        _until_running(addr, name)
        times.append(time.perf_counter() - t0)
        subprocess.run([*argv, "job", "stop", "-purge", "-detach", name], env=env,
                       capture_output=True, cwd=ROOT)  # fmt: skip
    return times


def section_jobs_and_scheduler_watchers(run: Run, args: argparse.Namespace) -> None:
    stack = e2e.Stack(run.work)
    stack.start()
    try:
        addr = f"127.0.0.1:{stack.scheduler}"
        assert stack.proc is not None
        if "watchers" in args.only:
            section_watchers(run, "scheduler", addr, stack.proc.pid, NOMAD, run.nomad_pid)
        if "jobs" not in args.only:
            return
        y = _job_run_times(run, e2e.YURT, stack.env, addr, "yurt", args.jobs)
        real = ""
        if run.nomad_pid is not None:
            nomad = run.real("nomad")
            assert nomad is not None
            env = {**os.environ, "NOMAD_ADDR": f"http://{NOMAD}"}
            n = _job_run_times(run, [nomad], env, NOMAD, "nomad", args.jobs)
            real = f"nomad -dev {statistics.median(n) * 1e3:.0f} / {max(n) * 1e3:.0f} ms"
        run.rows.append(
            Row(
                f"seed's job (raw_exec nginx): job run → allocation running, median / max "
                f"of {args.jobs}",
                f"{statistics.median(y) * 1e3:.0f} / {max(y) * 1e3:.0f} ms",
                real,
            )
        )
    finally:
        stack.stop()


# ---- driver ------------------------------------------------------------------------------


def measure(args: argparse.Namespace, reference: Path | None) -> Run:
    work = Path(tempfile.mkdtemp(prefix="yurt-compare-"))
    work.chmod(0o755)  # nginx's workers run as www-data
    run = Run(work, reference)
    try:
        if set(args.only) - {"scheduler"}:
            run.consul_pid = start_consul(run)  # Fabio's registry, and Nomad's Consul
        run.fabio_pid = start_fabio(run) if "router" in args.only else None
        run.nomad_pid = start_nomad(run) if {"jobs", "watchers"} & set(args.only) else None
        yurt_catalog, yurt_catalog_pid = start_yurt_catalog(run)
        if "router" in args.only:
            port, run.nginx_worker = start_nginx(run)
            section_router(run, args, yurt_catalog, port)
        if "catalog" in args.only:
            section_catalog(run, args, yurt_catalog)
        if "watchers" in args.only:
            section_watchers(run, "catalog", yurt_catalog, yurt_catalog_pid, CONSUL, run.consul_pid)
        if {"jobs", "watchers"} & set(args.only):
            section_jobs_and_scheduler_watchers(run, args)
        if "scheduler" in args.only:
            section_scheduler(run, args)
    except BaseException:
        print(f"(logs kept in {work})", file=sys.stderr)
        raise
    finally:
        run.stop()
    shutil.rmtree(work, ignore_errors=True)
    return run


def print_table(run: Run, reference: Path | None, why: str) -> None:
    real_head = "real product" if reference is not None else f"real product ({why})"
    rows = [Row("figure", "yurt", real_head, "nginx direct"), *run.rows]
    widths = [max(len(getattr(r, f)) for r in rows) for f in ("figure", "yurt", "real", "nginx")]
    for i, r in enumerate(rows):
        cells = (r.figure, r.yurt, r.real, r.nginx)
        print("| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |")
        if i == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reference", default=str(ROOT.parent / "shared" / "reference"))
    ap.add_argument("--duration", type=float, default=3.0, help="seconds per wrk/write run")
    ap.add_argument("--rounds", type=int, default=2, help="rounds of each run (medians)")
    ap.add_argument("--changes", type=int, default=10, help="registrations to time")
    ap.add_argument("--jobs", type=int, default=3, help="job runs to time per product")
    ap.add_argument("--only", default=",".join(SECTIONS), help="sections: " + ",".join(SECTIONS))
    ap.add_argument(
        "--scenario",
        action="append",
        help="NODES:ALLOCS for the scheduler section (default 1000:10000 and 5000:50000)",
    )
    ap.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.only = [s for s in args.only.split(",") if s]
    unknown = set(args.only) - set(SECTIONS)
    if unknown:
        ap.error(f"--only: unknown sections {sorted(unknown)}; known: {', '.join(SECTIONS)}")
    args.scenarios = [tuple(int(x) for x in s.split(":")) for s in args.scenario or []] or [
        (1000, 10000),
        (5000, 50000),
    ]
    reference: Path | None = Path(args.reference)
    why = ""
    assert reference is not None
    if not all((reference / b).is_file() for b in ("nomad", "consul", "fabio")):
        reference, why = None, f"skipped: {args.reference} is absent"
    if not args.inside:
        if shutil.which("unshare") and os.geteuid() == 0:
            inner = [sys.executable, os.path.abspath(__file__), "--inside", *sys.argv[1:]]
            script = "ip link set lo up && exec " + " ".join(_shell_quote(a) for a in inner)
            raise SystemExit(subprocess.call(["unshare", "-n", "sh", "-c", script]))
        if reference is not None:
            reference, why = None, "skipped: needs root and unshare for a private network"
    for tool in ("wrk", "/usr/sbin/nginx"):
        if "router" in args.only and shutil.which(tool) is None:
            sys.exit(f"{tool} is missing: apt-get install -y wrk nginx-light")
    began = time.perf_counter()
    run = measure(args, reference)
    print(
        f"yurt vs the real products, one run on this machine ({os.cpu_count()} cores), "
        f"{time.perf_counter() - began:.0f} s; wrk -t2, {args.duration:g} s x {args.rounds} "
        "rounds taken in turns, medians; watcher CPU is the server's per watcher (park and wake)"
    )
    print_table(run, reference, why)


def _shell_quote(arg: str) -> str:
    return "'" + arg.replace("'", "'\\''") + "'"


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()

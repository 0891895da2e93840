"""Router benchmark: proxy throughput against nginx direct, and catalog-to-proxy latency.

It starts nginx (Debian's /usr/sbin/nginx) serving a 2 KB static page, `yurt catalog -dev`
(or uses a running Consul-API catalog) and `yurt router`, each as its own process; registers
nginx as a service tagged `urlprefix-/`; then runs `wrk` (2 threads; 1 for 1 connection)
against nginx and through the router at 1, 16 and 128 connections and prints requests/s, p50
and p99 of both and their ratio (nginx and the router take turns for `--repeat` rounds; the
table shows medians). `cpu us` is the router's CPU time (user + system) per request: a steadier
measure than requests/s on a machine shared with other work. Then it measures how long a
catalog change takes to reach the proxy: a new service registered (time until its route answers
200) and a check turning critical (time until the route answers 404). For the proxy's Python
cost alone, without the machine's noise, see bench/router_datapath.py.

    python bench/router.py                      # 3 rounds of 10 s wrk runs
    python bench/router.py --duration 3 --repeat 1   # quicker
    python bench/router.py --access-log         # the router writes its access log too
    python bench/router.py --consul 127.0.0.1:8500   # a running catalog (yurt's or Consul)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.process import YurtProcess, free_port, wait_http  # noqa: E402

NGINX_CONF = """
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{port};
        root {dir}/www;
    }}
}}
"""


class Catalog:
    """Registration and checks through Consul's agent HTTP API, on any Consul-API catalog."""

    def __init__(self, addr: str) -> None:
        self.url = "http://" + addr

    def _put(self, path: str, body: Any = None) -> None:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method="PUT")
        with urllib.request.urlopen(req, timeout=10):
            pass

    def register(self, sid: str, name: str, port: int, tags: list[str]) -> None:
        self._put(
            "/v1/agent/service/register",
            {
                "ID": sid,
                "Name": name,
                "Address": "127.0.0.1",
                "Port": port,
                "Tags": tags,
                "Check": {"CheckID": f"{sid}-ttl", "TTL": "10m"},
            },
        )
        self._put(f"/v1/agent/check/pass/{sid}-ttl")

    def fail(self, sid: str) -> None:
        self._put(f"/v1/agent/check/fail/{sid}-ttl")

    def deregister(self, sid: str) -> None:
        self._put(f"/v1/agent/service/deregister/{sid}")


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return 0


def time_until(cond: Callable[[], bool], timeout: float = 10.0) -> float:
    start = time.perf_counter()
    while not cond():
        if time.perf_counter() - start > timeout:
            raise TimeoutError("condition not met")
        time.sleep(0.001)
    return time.perf_counter() - start


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if not m:
        raise ValueError(f"unexpected wrk latency {text!r}")
    return float(m[1]) * _UNITS[m[2]]


def wrk(url: str, connections: int, duration: float) -> tuple[float, float, float, int]:
    """(requests/s, p50 ms, p99 ms, non-2xx-or-errors) from one wrk run."""
    out = subprocess.run(
        [
            "wrk",
            f"-t{min(2, connections)}",
            f"-c{connections}",
            f"-d{duration:g}s",
            "--latency",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])  # type: ignore[index]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M)[1])  # type: ignore[index]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M)[1])  # type: ignore[index]
    bad = 0
    if m := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out):
        bad += int(m[1])
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        bad += sum(int(x) for x in m.groups())
    return rps, p50, p99, bad


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run")
    ap.add_argument("--consul", default="", help="host:port of a running Consul-API catalog")
    ap.add_argument("--connections", default="1,16,128")
    ap.add_argument("--repeat", type=int, default=3, help="rounds of nginx/router runs")
    ap.add_argument("--changes", type=int, default=20, help="catalog changes to time")
    ap.add_argument("--access-log", action="store_true", help="router writes its access log")
    args = ap.parse_args()
    for tool in ("wrk", "/usr/sbin/nginx"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is missing: apt-get install -y wrk nginx-light")

    work = Path(tempfile.mkdtemp(prefix="yurt-bench-router-"))
    work.chmod(0o755)  # nginx's workers run as www-data
    catalog_proc: YurtProcess | None = None
    procs: list[subprocess.Popen[bytes]] = []
    router: YurtProcess | None = None
    try:
        if args.consul:
            consul_addr = args.consul
        else:
            consul_addr = f"127.0.0.1:{free_port()}"
            catalog_proc = YurtProcess(
                ["catalog", "-dev", "-http-addr", consul_addr, "-data-dir", str(work / "catalog")],
                ready_url=f"http://{consul_addr}/v1/status/leader",
                log_path=work / "catalog.log",
            ).start()
        catalog = Catalog(consul_addr)

        (work / "www").mkdir()
        (work / "www" / "index.html").write_text(
            "<!doctype html><html><body>" + "x" * (2048 - 40) + "</body></html>\n"
        )
        nginx_port = free_port()
        (work / "nginx.conf").write_text(NGINX_CONF.format(dir=work, port=nginx_port))
        procs.append(
            subprocess.Popen(
                ["/usr/sbin/nginx", "-c", str(work / "nginx.conf"), "-g", "daemon off;"],
                stderr=subprocess.DEVNULL,
            )
        )
        wait_http(f"http://127.0.0.1:{nginx_port}/", proc=procs[-1])

        proxy_port, ui_port = free_port(), free_port()
        flags = [
            "router",
            "-proxy.addr",
            f"127.0.0.1:{proxy_port}",
            "-ui.addr",
            f"127.0.0.1:{ui_port}",
            "-registry.consul.addr",
            consul_addr,
            "-registry.consul.register.enabled=false",
            "-proxy.header.requestid=X-Request-Id",
        ]
        if args.access_log:
            flags += ["-log.access.target", "stdout"]
        router = YurtProcess(
            flags,
            ready_url=f"http://127.0.0.1:{ui_port}/health",
            log_path=work / "router.log",
        ).start()
        proxy = f"http://127.0.0.1:{proxy_port}"
        assert router.proc is not None
        router_pid = router.proc.pid
        catalog.register("bench-nginx", "nginx", nginx_port, ["urlprefix-/"])
        time_until(lambda: status(proxy + "/index.html") == 200)

        print(
            f"proxy throughput: wrk -t2, {args.duration:g}s per run, 2 KB static page, "
            f"median of {args.repeat} rounds; request-id on, access log "
            + ("on" if args.access_log else "off")
        )
        print(
            f"{'conns':>5} | {'nginx req/s':>11} {'p50 ms':>7} {'p99 ms':>7} | "
            f"{'router req/s':>12} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6} {'cpu us':>7} | "
            f"{'ratio':>5}"
        )
        for c in (int(x) for x in args.connections.split(",")):
            # nginx and the router take turns, so that a change in the machine's load falls
            # on both; each column is the median of the rounds, the ratio the median of the
            # rounds' ratios.
            ds, rs, cpu = [], [], []
            for _ in range(args.repeat):
                ds.append(wrk(f"http://127.0.0.1:{nginx_port}/index.html", c, args.duration))
                before = cpu_seconds(router_pid)
                rs.append(wrk(proxy + "/index.html", c, args.duration))
                spent = cpu_seconds(router_pid) - before
                cpu.append(spent / (rs[-1][0] * args.duration) * 1e6)
            d = [statistics.median(x[i] for x in ds) for i in range(3)]
            r = [statistics.median(x[i] for x in rs) for i in range(3)]
            errors = sum(x[3] for x in rs)
            ratio = statistics.median(b[0] / a[0] for a, b in zip(ds, rs, strict=True))
            print(
                f"{c:>5} | {d[0]:>11,.0f} {d[1]:>7.2f} {d[2]:>7.2f} | "
                f"{r[0]:>12,.0f} {r[1]:>7.2f} {r[2]:>7.2f} {errors:>6} "
                f"{statistics.median(cpu):>7.1f} | {ratio:>5.2f}"
            )

        added: list[float] = []
        failed: list[float] = []
        for i in range(args.changes):
            sid = f"bench-lat-{i}"
            path = f"{proxy}/lat{i}/index.html"
            t0 = time.perf_counter()
            catalog.register(sid, f"lat{i}", nginx_port, [f"urlprefix-/lat{i} strip=/lat{i}"])
            time_until(lambda p=path: status(p) == 200)  # type: ignore[misc]
            added.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            catalog.fail(sid)
            time_until(lambda p=path: status(p) == 404)  # type: ignore[misc]
            failed.append(time.perf_counter() - t0)
            catalog.deregister(sid)
        print()
        print(f"catalog change -> proxy ({args.changes} changes each; includes the HTTP calls)")
        print(f"{'change':<28} {'p50 ms':>7} {'max ms':>7}")
        for name, xs in (("service registered -> 200", added), ("check critical -> 404", failed)):
            print(f"{name:<28} {statistics.median(xs) * 1e3:>7.1f} {max(xs) * 1e3:>7.1f}")
    except BaseException:
        if router is not None:
            print("--- router log ---\n" + router.log(), file=sys.stderr)
        raise
    finally:
        if router is not None:
            router.stop()
        for p in procs:
            p.terminate()
            p.wait(10)
        if catalog_proc is not None:
            catalog_proc.stop(timeout=3)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()

"""Router benchmark: proxy throughput against nginx direct, and catalog-to-proxy latency.

It starts nginx (Debian's /usr/sbin/nginx) serving a 2 KB static page, `yurt catalog -dev`
(or uses a running Consul-API catalog) and `yurt router`, each as its own process; registers
nginx as a service tagged `urlprefix-/`; then runs `wrk` (2 threads; 1 for 1 connection)
against nginx and through the router at 1, 16 and 128 connections and prints requests/s, p50
and p99 of both and their ratio (they take turns for `--repeat` rounds; the table shows
medians). Two references are measured in the same rounds: nginx itself as a reverse proxy
(proxy_pass to a keep-alive upstream pool, one worker), what a proxy written in C does on this
machine; and a byte relay on uvloop (bench/byte_relay.py: no parsing, no routing), the floor
of any Python proxy. `cpu us` is each process's CPU time (user + system) per request: a
steadier measure than requests/s on a machine shared with other work. Then it measures how long a
catalog change takes to reach the proxy: a new service registered (time until its route answers
200) and a check turning critical (time until the route answers 404). For the proxy's Python
cost alone, without the machine's noise, see bench/router_datapath.py.

    python bench/router.py                      # 3 rounds of 10 s wrk runs
    python bench/router.py --duration 3 --repeat 1   # quicker
    python bench/router.py --access-log         # the router writes its access log too
    python bench/router.py --no-references      # nginx direct and the router only
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

# The reference proxy written in C: nginx's own reverse proxy with a keep-alive upstream pool,
# in a process of its own (one worker, as the router is one process).
NGINX_PROXY_CONF = """
worker_processes 1;
pid {dir}/nginx-proxy.pid;
error_log {dir}/error-proxy.log;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_requests 1000000;
    upstream origin {{ server 127.0.0.1:{origin}; keepalive 256; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
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


def nginx_worker(master: subprocess.Popen[bytes]) -> int:
    """The pid of an nginx master's (single) worker process."""
    children = Path(f"/proc/{master.pid}/task/{master.pid}/children")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        pids = children.read_text().split()
        if pids:
            return int(pids[0])
        time.sleep(0.05)
    raise RuntimeError("nginx started no worker")


class System:
    """One thing wrk is pointed at: its URL, and the process whose CPU time is counted."""

    def __init__(self, name: str, url: str, pid: int) -> None:
        self.name = name
        self.url = url
        self.pid = pid
        self.runs: list[tuple[float, float, float, int]] = []
        self.cpu: list[float] = []

    def measure(self, connections: int, duration: float) -> None:
        before = cpu_seconds(self.pid)
        self.runs.append(wrk(self.url, connections, duration))
        spent = cpu_seconds(self.pid) - before
        self.cpu.append(spent / (self.runs[-1][0] * duration) * 1e6)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run")
    ap.add_argument("--consul", default="", help="host:port of a running Consul-API catalog")
    ap.add_argument("--connections", default="1,16,128")
    ap.add_argument("--repeat", type=int, default=3, help="rounds of nginx/router runs")
    ap.add_argument("--changes", type=int, default=20, help="catalog changes to time")
    ap.add_argument("--access-log", action="store_true", help="router writes its access log")
    ap.add_argument(
        "--no-references",
        action="store_true",
        help="skip the reference proxies (nginx as a proxy, a Python byte relay)",
    )
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

        page = "/index.html"
        systems = [
            System("nginx direct", f"http://127.0.0.1:{nginx_port}{page}", nginx_worker(procs[0])),
            System("yurt router", proxy + page, router_pid),
        ]
        if not args.no_references:
            port = free_port()
            (work / "nginx-proxy.conf").write_text(
                NGINX_PROXY_CONF.format(dir=work, port=port, origin=nginx_port)
            )
            procs.append(
                subprocess.Popen(
                    ["/usr/sbin/nginx", "-c", str(work / "nginx-proxy.conf"), "-g", "daemon off;"],
                    stderr=subprocess.DEVNULL,
                )
            )
            wait_http(f"http://127.0.0.1:{port}/", proc=procs[-1])
            systems.append(
                System("nginx as proxy", f"http://127.0.0.1:{port}{page}", nginx_worker(procs[-1]))
            )
            port = free_port()
            procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        str(ROOT / "bench" / "byte_relay.py"),
                        str(port),
                        str(nginx_port),
                    ]
                )
            )
            wait_http(f"http://127.0.0.1:{port}/", proc=procs[-1])
            systems.append(System("py byte relay", f"http://127.0.0.1:{port}{page}", procs[-1].pid))

        print(
            f"proxy throughput: wrk -t2, {args.duration:g}s per run, 2 KB static page, "
            f"median of {args.repeat} rounds; router: request-id on, access log "
            + ("on" if args.access_log else "off")
        )
        print(
            "cpu us: the process's CPU time per request (for nginx direct: the origin's own); "
            "vs direct: the median of the rounds' ratios to nginx direct"
        )
        print(
            f"{'conns':>5}  {'':<14} {'req/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6} "
            f"{'cpu us':>7} {'vs direct':>9}"
        )
        for c in (int(x) for x in args.connections.split(",")):
            # All take turns in every round, so that a change in the machine's load falls on
            # each of them.
            for sys_ in systems:
                sys_.runs, sys_.cpu = [], []
            for _ in range(args.repeat):
                for sys_ in systems:
                    sys_.measure(c, args.duration)
            direct = systems[0]
            for sys_ in systems:
                med = [statistics.median(x[i] for x in sys_.runs) for i in range(3)]
                ratio = statistics.median(
                    b[0] / a[0] for a, b in zip(direct.runs, sys_.runs, strict=True)
                )
                print(
                    f"{c:>5}  {sys_.name:<14} {med[0]:>9,.0f} {med[1]:>7.2f} {med[2]:>7.2f} "
                    f"{sum(x[3] for x in sys_.runs):>6} {statistics.median(sys_.cpu):>7.1f} "
                    f"{ratio:>9.2f}"
                )
        print()

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

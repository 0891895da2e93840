"""How fast the client turns an allocation into a running task and a passing service.

Starts a real catalog, scheduler and client (`yurt catalog|scheduler|client`), then runs a
one-task service job N times per driver: raw_exec (`python3 -m http.server`) and, when a
Docker-compatible engine is given or can be started with scripts/podman-service.sh, docker
(`nginx:alpine` built by scripts/build-images.sh). For each run it measures, from the
task's `Received` event (the client got the allocation):
  - running: the task's `Started` event,
  - passing: the service's check passing in the catalog (polled every 10 ms),
and prints median, p99 and max. Then it measures templates: a raw_exec task renders a KV key
into a file; the key is changed `-template-changes` times, and each time the time from the
KV write to the file holding the new value (read from the client's data dir every 1 ms) is
taken: the client's blocking-query watch, the render and the write (changes 0.1 s apart).

.venv/bin/python bench/client.py [-runs 50] [-drivers raw_exec,docker] [-docker-endpoint URL]
                                 [-template-changes 50]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from yurt.jobspec import parse_job  # noqa: E402

JOBS = {
    "raw_exec": """
job "bench" {
  datacenters = ["dc1"]
  group "g" {
    network {
      port "http" {}
    }
    service {
      name = "bench"
      port = "http"
      check {
        type     = "tcp"
        interval = "1s"
        timeout  = "1s"
      }
    }
    task "t" {
      driver = "raw_exec"
      config {
        command = "python3"
        args    = ["-m", "http.server", "${NOMAD_PORT_http}", "--bind", "127.0.0.1"]
      }
    }
  }
}
""",
    "docker": """
job "bench" {
  datacenters = ["dc1"]
  group "g" {
    network {
      port "http" {
        to = 80
      }
    }
    service {
      name = "bench"
      port = "http"
      check {
        type     = "tcp"
        interval = "1s"
        timeout  = "1s"
      }
    }
    task "t" {
      driver = "docker"
      config {
        image = "nginx:alpine"
        ports = ["http"]
      }
    }
  }
}
""",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def call(method: str, url: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    with urllib.request.urlopen(req, timeout=30) as resp:
        text = resp.read()
    return json.loads(text) if text else None


def wait(cond: Any, timeout: float, what: str, every: float = 0.01) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = cond()
        except (urllib.error.URLError, OSError, KeyError):
            found = None
        if found:
            return found
        time.sleep(every)
    raise SystemExit(f"timed out waiting for {what}")


def start(args: list[str], ready: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "YURT_LOG_LEVEL": "WARNING"}
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "yurt", *args], env=env, stdout=out, stderr=out,
            start_new_session=True,
        )  # fmt: skip
    wait(lambda: urllib.request.urlopen(ready, timeout=1), 30, ready, every=0.05)
    return proc


def podman_endpoint(run_dir: Path) -> str:
    env = {**os.environ, "CONTAINERS_CONF": str(ROOT / "scripts/podman/containers.conf")}
    out = subprocess.run(
        ["bash", str(ROOT / "scripts/podman-service.sh"), str(run_dir)],
        capture_output=True, text=True, env=env, check=True,
    )  # fmt: skip
    subprocess.run(["bash", str(ROOT / "scripts/build-images.sh")], env=env, check=True)
    return out.stdout.strip().splitlines()[-1]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run_driver(driver: str, runs: int, sched: str, catalog: str) -> dict[str, list[float]]:
    job = parse_job(JOBS[driver], "bench.nomad")
    out: dict[str, list[float]] = {"running": [], "passing": []}
    for _ in range(runs):
        call("PUT", f"{sched}/v1/jobs", {"Job": job})

        def running_alloc() -> Any:
            for a in call("GET", f"{sched}/v1/job/bench/allocations"):
                if a["ClientStatus"] == "running" and a["DesiredStatus"] == "run":
                    return a
            return None

        alloc = wait(running_alloc, 60, "a running allocation")
        passing_at = wait(
            lambda: call("GET", f"{catalog}/v1/health/service/bench?passing") and time.time_ns(),
            60,
            "the service passing",
        )
        full = call("GET", f"{sched}/v1/allocation/{alloc['ID']}")
        evs = {e["Type"]: e["Time"] for e in full["TaskStates"]["t"]["Events"]}
        received = evs["Received"]
        out["running"].append((evs["Started"] - received) / 1e6)
        out["passing"].append((passing_at - received) / 1e6)
        call("DELETE", f"{sched}/v1/job/bench?purge=true")
        wait(lambda: not call("GET", f"{catalog}/v1/health/service/bench"), 60, "deregistered")
    return out


TEMPLATE_JOB = """
job "bench-tmpl" {
  datacenters = ["dc1"]
  group "g" {
    task "t" {
      driver = "raw_exec"
      template {
        data        = "value={{ key \\"bench/tmpl\\" }}\\n"
        destination = "local/out.txt"
        change_mode = "noop"
      }
      config {
        command = "/bin/sleep"
        args    = ["1000"]
      }
    }
  }
}
"""


def kv_put(catalog: str, key: str, value: str) -> None:
    req = urllib.request.Request(f"{catalog}/v1/kv/{key}", data=value.encode(), method="PUT")
    urllib.request.urlopen(req, timeout=30).close()


def run_template(changes: int, sched: str, catalog: str, data_dir: Path) -> list[float]:
    """Milliseconds from a KV write to the rendered file holding the new value."""
    kv_put(catalog, "bench/tmpl", "start")
    call("PUT", f"{sched}/v1/jobs", {"Job": parse_job(TEMPLATE_JOB, "bench-tmpl.nomad")})
    alloc = wait(
        lambda: next(
            (a for a in call("GET", f"{sched}/v1/job/bench-tmpl/allocations")
             if a["ClientStatus"] == "running"),
            None,
        ),
        60,
        "the template task running",
    )  # fmt: skip
    out = data_dir / "alloc" / alloc["ID"] / "t" / "local" / "out.txt"
    wait(lambda: out.exists() and out.read_text() == "value=start\n", 30, "the first render")
    took = []
    for i in range(changes):
        # Changes 0.1 s apart: a watcher starts at most one query per 50 ms, so changes
        # closer than that are batched, and this measures one change on its own.
        time.sleep(0.1)
        value = f"v{i}"
        t0 = time.perf_counter()
        kv_put(catalog, "bench/tmpl", value)
        wait(lambda v=value: out.read_text() == f"value={v}\n", 30, "the render", every=0.001)
        took.append((time.perf_counter() - t0) * 1e3)
    call("DELETE", f"{sched}/v1/job/bench-tmpl?purge=true")
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-runs", type=int, default=50)
    parser.add_argument("-drivers", default="raw_exec,docker")
    parser.add_argument("-docker-endpoint", dest="docker_endpoint", default=None)
    parser.add_argument("-template-changes", dest="template_changes", type=int, default=50)
    opts = parser.parse_args()
    drivers = [d.strip() for d in opts.drivers.split(",") if d.strip()]
    tmp = Path(tempfile.mkdtemp(prefix="yurt-bench-client-"))
    procs: list[subprocess.Popen[bytes]] = []
    podman_pid: Path | None = None
    try:
        endpoint = opts.docker_endpoint
        if "docker" in drivers and endpoint is None:
            endpoint = podman_endpoint(tmp / "podman")
            podman_pid = tmp / "podman" / "podman.pid"
        cport, sport, kport = free_port(), free_port(), free_port()
        catalog = f"http://127.0.0.1:{cport}"
        sched = f"http://127.0.0.1:{sport}"
        procs.append(start(["catalog", "-dev", "-http-addr", f"127.0.0.1:{cport}"],
                           f"{catalog}/v1/status/leader", tmp / "catalog.log"))  # fmt: skip
        procs.append(start(["scheduler", "-http-addr", f"127.0.0.1:{sport}", "-data-dir",
                            str(tmp / "sched")], f"{sched}/v1/agent/health",
                           tmp / "scheduler.log"))  # fmt: skip
        client_args = ["client", "-servers", f"127.0.0.1:{sport}", "-data-dir", str(tmp / "c"),
                       "-http-addr", f"127.0.0.1:{kport}", "-raw-exec",
                       "-consul-addr", f"127.0.0.1:{cport}"]  # fmt: skip
        if endpoint:
            client_args += ["-docker-endpoint", endpoint]
        procs.append(start(client_args, f"http://127.0.0.1:{kport}/v1/agent/health",
                           tmp / "client.log"))  # fmt: skip
        wait(lambda: call("GET", f"{sched}/v1/nodes"), 30, "the node", every=0.05)
        rows = []
        for driver in drivers:
            result = run_driver(driver, opts.runs, sched, catalog)
            for what, values in result.items():
                rows.append((driver, what, statistics.median(values), pct(values, 0.99),
                             max(values)))  # fmt: skip
        print(f"\nallocation received -> task running / service passing ({opts.runs} runs)\n")
        print(f"{'driver':<10} {'until':<9} {'median ms':>10} {'p99 ms':>10} {'max ms':>10}")
        for driver, what, med, p99, top in rows:
            print(f"{driver:<10} {what:<9} {med:>10.1f} {p99:>10.1f} {top:>10.1f}")
        if opts.template_changes:
            took = run_template(opts.template_changes, sched, catalog, tmp / "c")
            print(f"\nKV write -> template file re-rendered ({opts.template_changes} changes)\n")
            print(f"{'median ms':>10} {'p99 ms':>10} {'max ms':>10}")
            print(f"{statistics.median(took):>10.1f} {pct(took, 0.99):>10.1f} {max(took):>10.1f}")
    finally:
        for proc in reversed(procs):
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        if podman_pid is not None and podman_pid.exists():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(podman_pid.read_text()), signal.SIGTERM)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

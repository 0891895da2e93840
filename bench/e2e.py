"""End-to-end benchmark of the whole stack, as a user meets it.

Measures, over N runs each (median and p99):
  * `yurt up -dev` from exec to "every agent passes in the catalog";
  * `yurt job run -detach` to the first 200 through the router's proxy, for the raw_exec
    nginx job (and the docker one when DOCKER_HOST points at an engine with nginx:alpine);
and the resident memory of the whole stack (the agent plus its tasks) idle and with 10
running jobs. Every run binds free ports, so it does not disturb a `make up` stack.

    python bench/e2e.py            # 20 runs
    python bench/e2e.py --runs 5
"""

from __future__ import annotations

import argparse
import json
import os
import re
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

REPO = Path(__file__).resolve().parents[1]
YURT = [sys.executable, "-m", "yurt"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return 0


class Stack:
    """One `yurt up -dev` process on free ports."""

    def __init__(self, workdir: Path) -> None:
        self.catalog = free_port()
        self.scheduler = free_port()
        self.ui = free_port()
        self.proxy = free_port()
        self.config = workdir / "agent.hcl"
        self.config.write_text(
            f"""
datacenter = "dc1"
bind_addr  = "127.0.0.1"
ports {{ http = {self.scheduler} }}
consul {{
  address             = "127.0.0.1:{self.catalog}"
  server_service_name = "nomad-1-server"
  client_service_name = "nomad-1-client"
}}
plugin "raw_exec" {{
  config {{ enabled = true }}
}}
client {{ enabled = true }}
router {{
  proxy_addr = "127.0.0.1:{self.proxy}"
  ui_addr    = "127.0.0.1:{self.ui}"
}}
"""
        )
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = workdir / "yurt.log"

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "NOMAD_ADDR": f"http://127.0.0.1:{self.scheduler}"}

    def start(self) -> float:
        """Seconds from exec to ready (the agent prints its banner once all agents pass)."""
        began = time.perf_counter()
        self.proc = subprocess.Popen(
            [*YURT, "up", "-dev", "-config", str(self.config)],
            stdout=subprocess.PIPE,
            stderr=self.log.open("wb"),
            cwd=REPO,
            start_new_session=True,
        )
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if b"yurt is ready" in line:
                return time.perf_counter() - began
        raise SystemExit(f"yurt up exited before it was ready; see {self.log}")

    def stop(self) -> None:
        if self.proc is None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc = None

    def run_job(self, path: Path) -> None:
        subprocess.run(
            [*YURT, "job", "run", "-detach", str(path)],
            env=self.env,
            cwd=REPO,
            check=True,
            capture_output=True,
        )

    def stop_job(self, name: str) -> None:
        subprocess.run(
            [*YURT, "job", "stop", "-purge", "-detach", name],
            env=self.env,
            cwd=REPO,
            check=True,
            capture_output=True,
        )

    def until_routed(self, began: float, timeout: float = 60) -> float:
        url = f"http://127.0.0.1:{self.proxy}/"
        while time.perf_counter() - began < timeout:
            if http_status(url) == 200:
                return time.perf_counter() - began
            time.sleep(0.01)
        raise SystemExit(f"no 200 on {url} within {timeout}s; see {self.log}")

    def until_unrouted(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and http_status(f"http://127.0.0.1:{self.proxy}/") == 200:
            time.sleep(0.05)

    def rss_mib(self) -> float:
        """Resident memory of the agent's process group and every descendant (tasks)."""
        assert self.proc is not None
        out = subprocess.run(
            ["ps", "-e", "-o", "pid=,ppid=,rss="], capture_output=True, text=True, check=True
        ).stdout
        children: dict[int, list[int]] = {}
        rss: dict[int, int] = {}
        for line in out.splitlines():
            pid, ppid, kib = (int(x) for x in line.split())
            children.setdefault(ppid, []).append(pid)
            rss[pid] = kib
        total, todo = 0, [self.proc.pid]
        while todo:
            pid = todo.pop()
            total += rss.get(pid, 0)
            todo.extend(children.get(pid, []))
        return total / 1024


def quantiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered), p99


def job_variant(source: Path, name: str, workdir: Path) -> Path:
    text = source.read_text()
    text = re.sub(r'job\s+"[^"]+"', f'job "{name}"', text, count=1)
    path = workdir / f"{name}.nomad"
    path.write_text(text)
    return path


def docker_ready() -> bool:
    host = os.environ.get("DOCKER_HOST", "")
    if not host.startswith("unix://") or not Path(host[7:]).exists():
        return False
    try:
        import docker

        client = docker.DockerClient(base_url=host)
        client.images.get("nginx:alpine")
        return True
    except Exception:
        return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory(prefix="yurt-bench-") as tmp:
        work = Path(tmp)
        up_times: list[float] = []
        for _ in range(args.runs):
            stack = Stack(work)
            try:
                up_times.append(stack.start())
            finally:
                stack.stop()
        med, p99 = quantiles(up_times)
        rows.append(("yurt up -> ready", f"{med:.2f} s", f"{p99:.2f} s"))

        stack = Stack(work)
        stack.start()
        try:
            variants = [("raw_exec", REPO / "jobs/job.nginx-raw.nomad")]
            if docker_ready():
                variants.append(("docker", REPO / "jobs/job.nginx.nomad"))
            for label, source in variants:
                samples: list[float] = []
                for i in range(args.runs):
                    path = job_variant(source, f"bench-{label.replace('_', '-')}-{i}", work)
                    began = time.perf_counter()
                    stack.run_job(path)
                    samples.append(stack.until_routed(began))
                    stack.stop_job(f"bench-{label.replace('_', '-')}-{i}")
                    stack.until_unrouted()
                med, p99 = quantiles(samples)
                rows.append((f"job run -> first 200 ({label})", f"{med:.2f} s", f"{p99:.2f} s"))
            idle = stack.rss_mib()
            sleep_job = REPO / "jobs/job.sleep.nomad"
            for i in range(10):
                stack.run_job(job_variant(sleep_job, f"bench-sleep-{i}", work))
            deadline = time.monotonic() + 60
            running = 0
            while time.monotonic() < deadline and running < 10:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{stack.scheduler}/v1/allocations", timeout=5
                ) as resp:
                    allocs: list[dict[str, Any]] = json.load(resp)
                running = sum(
                    1
                    for a in allocs
                    if a["JobID"].startswith("bench-sleep-") and a["ClientStatus"] == "running"
                )
                time.sleep(0.2)
            busy = stack.rss_mib()
            rows.append(("RSS, idle (agent + tasks)", f"{idle:.0f} MiB", ""))
            rows.append((f"RSS, {running} running sleep jobs", f"{busy:.0f} MiB", ""))
        finally:
            stack.stop()
    if not docker_ready():
        rows.append(("job run -> first 200 (docker)", "skipped: no engine with nginx:alpine", ""))
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'median':>10}  {'p99':>10}   (runs: {args.runs})")
    for name, med_s, p99_s in rows:
        print(f"{name:<{width}}  {med_s:>10}  {p99_s:>10}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

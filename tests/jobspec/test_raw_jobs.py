"""The raw_exec demo jobs really run: their templates are rendered the way a client with
the `env`-only template subset renders them, and Debian's nginx and redis-server are
started with the job's own command and arguments."""

from __future__ import annotations

import re
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.jobspec.conftest import JOBS
from tests.support.process import free_port, wait_http
from yurt.jobspec import parse_job

_ENV_CALL = re.compile(r'\{\{\s*env\s+"([^"]+)"\s*\}\}')


def render(template: str, env: dict[str, str]) -> str:
    """Render a template that may use only consul-template's `env` function."""
    text = _ENV_CALL.sub(lambda m: env.get(m.group(1), ""), template)
    assert "{{" not in text, f"template uses more than env: {text}"
    return text


def interpolate(value: str, env: dict[str, str]) -> str:
    return re.sub(r"\$\{(NOMAD_[A-Za-z0-9_]+)\}", lambda m: env[m.group(1)], value)


def task_of(name: str) -> dict[str, Any]:
    path = JOBS / name
    job = parse_job(path.read_text(), str(path))
    task: dict[str, Any] = job["TaskGroups"][0]["Tasks"][0]
    return task


@contextmanager
def run_task(task: dict[str, Any], env: dict[str, str], task_dir: Path) -> Iterator[Any]:
    for tmpl in task.get("Templates") or []:
        dest = task_dir.parent / tmpl["DestPath"]
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(render(tmpl["EmbeddedTmpl"], env))
    argv = [task["Config"]["command"]] + [interpolate(a, env) for a in task["Config"]["args"]]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _env(tmp_path: Path, port_label: str, port: int) -> tuple[dict[str, str], Path]:
    task_dir = tmp_path / "task" / "local"
    task_dir.mkdir(parents=True)
    env = {
        "NOMAD_TASK_DIR": str(task_dir),
        f"NOMAD_PORT_{port_label}": str(port),
        "NOMAD_ALLOC_ID": "5d2a1c3e-0000-4000-8000-000000000001",
        "NOMAD_JOB_NAME": "job-nginx-raw",
    }
    return env, task_dir


def test_nginx_raw_job_serves_the_welcome_page(tmp_path: Path) -> None:
    task = task_of("job.nginx-raw.nomad")
    assert task["Driver"] == "raw_exec"
    port = free_port()
    env, task_dir = _env(tmp_path, "http", port)
    with run_task(task, env, task_dir) as proc:
        wait_http(f"http://127.0.0.1:{port}/", timeout=15, proc=proc)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as resp:
            body = resp.read().decode()
            assert resp.status == 200
            assert resp.headers["Content-Type"].startswith("text/html")
    assert "Welcome to yurt" in body
    assert f"listening on port {port}" in body
    assert "allocation 5d2a1c3e-0000-4000-8000-000000000001" in body


def test_redis_raw_job_answers_ping(tmp_path: Path) -> None:
    task = task_of("job.redis-raw.nomad")
    port = free_port()
    env, task_dir = _env(tmp_path, "db", port)
    with run_task(task, env, task_dir) as proc:
        deadline = time.monotonic() + 15
        while True:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
                    sock.sendall(b"PING\r\n")
                    assert sock.recv(64) == b"+PONG\r\n"
                    break
            except ConnectionRefusedError:
                assert time.monotonic() < deadline, "redis did not start"
                time.sleep(0.05)

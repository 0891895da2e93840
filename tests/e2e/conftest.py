"""The whole stack as a newcomer runs it: a clean copy of the checkout, `make up`, the seed's
make targets, `make stop`. Uses the seed's fixed ports (8500, 4646, 9998, 9999)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SEED_PORTS = (8500, 4646, 9998, 9999)


def _port_busy(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def copy_checkout(dest: Path) -> Path:
    """The files git knows (tracked, and new but not ignored), as in a fresh clone."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        check=True,
        capture_output=True,
    ).stdout.split(b"\0")
    for raw in listed:
        if not raw:
            continue
        rel = Path(raw.decode())
        src = REPO / rel
        if not src.exists():
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)
    return dest


@dataclass
class Checkout:
    path: Path
    env: dict[str, str]
    venv: Path = REPO / ".venv"

    def make(self, *args: str, timeout: float = 240, check: bool = True) -> str:
        # The venv of the repository under test is reused (VENV=...) so that the test does
        # not spend a minute installing the same packages again.
        proc = subprocess.run(
            ["make", "--no-print-directory", f"VENV={self.venv}", "VENV_EXTERNAL=1", *args],
            cwd=self.path,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        out = proc.stdout + proc.stderr
        if check and proc.returncode != 0:
            log = self.path / ".run" / "yurt.log"
            tail = log.read_text(errors="replace")[-6000:] if log.exists() else ""
            raise AssertionError(
                f"make {' '.join(args)} exited {proc.returncode}:\n{out}\n--- yurt.log ---\n{tail}"
            )
        return out


@contextlib.contextmanager
def _seed_ports_lock(timeout: float = 900) -> Iterator[None]:
    """One end-to-end run at a time on this machine: they all need the seed's fixed ports
    (several checkouts may run their suites at once on a developer's machine)."""
    with open("/tmp/yurt-e2e-seed-ports.lock", "w") as lock:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    pytest.fail("another end-to-end run held the seed's ports for 15 minutes")
                time.sleep(0.5)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture(scope="package")
def seed_ports() -> Iterator[None]:
    with _seed_ports_lock():
        yield


@pytest.fixture(scope="package")
def checkout(tmp_path_factory: pytest.TempPathFactory, seed_ports: None) -> Iterator[Checkout]:
    deadline = time.monotonic() + 180
    while (busy := [p for p in SEED_PORTS if _port_busy(p)]) and time.monotonic() < deadline:
        time.sleep(1)
    if busy:
        pytest.fail(f"the seed's ports {busy} are in use: stop whatever listens there")
    path = copy_checkout(tmp_path_factory.mktemp("fresh") / "yurt")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.pop("DOCKER_HOST", None)
    co = Checkout(path, env)
    yield co
    co.make("stop", check=False)
    podman = path / ".run" / "podman.pid"
    if podman.exists():  # the service `make podman` started for the docker variant
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(podman.read_text().strip()), signal.SIGTERM)

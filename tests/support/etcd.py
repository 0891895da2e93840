"""A real etcd for tests: one member on loopback ports with its data in a temp dir.

Debian's `etcd-server` (etcd 3.4) is what the store backend is written against; when the
binary is missing and we run as root it is installed with apt (a test installs the part it
needs, it never skips). The member is started with the limits the store's transactions need
(docs/storage.md): a batch of 20,000 rows is one `Txn`, and a KV value may be a few MiB.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

from tests.support.process import free_port

# What the store needs from etcd beyond its defaults (128 ops, 1.5 MiB per request).
MAX_TXN_OPS = 100_000
MAX_REQUEST_BYTES = 64 << 20

_INSTALL_LOCK = Path("/tmp/yurt-etcd-install.lock")


def etcd_binary() -> str:
    """The etcd server binary, installed from Debian when missing."""
    found = shutil.which("etcd")
    if found:
        return found
    if os.geteuid() != 0:
        raise RuntimeError("etcd is not installed: apt-get install etcd-server etcd-client")
    import fcntl

    with _INSTALL_LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # pytest-xdist workers or parallel runs
        if not shutil.which("etcd"):
            env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
            subprocess.run(
                ["apt-get", "install", "-y", "-qq", "etcd-server", "etcd-client"],
                check=True,
                env=env,
            )
    found = shutil.which("etcd")
    if not found:
        raise RuntimeError("apt-get installed etcd-server but no etcd binary is on PATH")
    return found


class Etcd:
    """`with Etcd(tmp_path) as etcd:` -- a single-member etcd; `etcd.endpoint` is its URL."""

    def __init__(self, data_dir: Path, *, host: str = "127.0.0.1", limits: bool = True) -> None:
        self.data_dir = data_dir
        self.limits = limits  # False: etcd's own defaults (128 operations per Txn)
        self.host = host
        self.client_port = free_port(host)
        self.peer_port = free_port(host)
        self.endpoint = f"http://{host}:{self.client_port}"
        self.log_path = data_dir / "etcd.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> Etcd:
        binary = etcd_binary()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        peer = f"http://{self.host}:{self.peer_port}"
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [
                binary,
                "--name=test",
                f"--data-dir={self.data_dir / 'member'}",
                f"--listen-client-urls={self.endpoint}",
                f"--advertise-client-urls={self.endpoint}",
                f"--listen-peer-urls={peer}",
                f"--initial-advertise-peer-urls={peer}",
                f"--initial-cluster=test={peer}",
                *(
                    [f"--max-txn-ops={MAX_TXN_OPS}", f"--max-request-bytes={MAX_REQUEST_BYTES}"]
                    if self.limits
                    else []
                ),
                "--log-level=warn",
                "--logger=zap",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"etcd exited with {self.proc.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(f"{self.endpoint}/health", timeout=2) as resp:
                    if b'"true"' in resp.read():
                        return
            except (OSError, urllib.error.HTTPError) as exc:
                last = exc
            time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"etcd not ready after {timeout}s: {last}\n{self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except FileNotFoundError:
            return ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def __enter__(self) -> Etcd:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


_shared: list[Etcd] = []


def shared_endpoint() -> str:
    """One etcd for the whole test run, started on first use and stopped at exit; tests
    keep apart by their own key prefixes."""
    if not _shared:
        import atexit
        import tempfile

        etcd = Etcd(Path(tempfile.mkdtemp(prefix="yurt-etcd-"))).start()
        atexit.register(_stop_shared, etcd)
        _shared.append(etcd)
    return _shared[0].endpoint


def _stop_shared(etcd: Etcd) -> None:
    etcd.stop()
    shutil.rmtree(etcd.data_dir, ignore_errors=True)

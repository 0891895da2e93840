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
from collections.abc import Sequence
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

    def __init__(
        self,
        data_dir: Path,
        *,
        host: str = "127.0.0.1",
        limits: bool = True,
        name: str = "test",
        ports: tuple[int, int] | None = None,
        cluster: str = "",
        exec_prefix: Sequence[str] = (),
    ) -> None:
        """`ports` (client, peer) default to free ones on `host`; `cluster` is etcd's
        `--initial-cluster` (this member alone by default); `exec_prefix` runs it elsewhere,
        such as in a network namespace (`ip netns exec NS`)."""
        self.data_dir = data_dir
        self.limits = limits  # False: etcd's own defaults (128 operations per Txn)
        self.host = host
        self.name = name
        self.client_port, self.peer_port = ports or (free_port(host), free_port(host))
        self.endpoint = f"http://{host}:{self.client_port}"
        self.peer_url = f"http://{host}:{self.peer_port}"
        self.cluster = cluster or f"{name}={self.peer_url}"
        self.exec_prefix = list(exec_prefix)
        self.log_path = data_dir / "etcd.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> Etcd:
        self.launch()
        self._wait_ready(timeout)
        return self

    def launch(self) -> None:
        """Start the member without waiting: a member of a new cluster is healthy only once
        a quorum of its members runs (`wait_ready` then)."""
        binary = etcd_binary()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        peer = self.peer_url
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [
                *self.exec_prefix,
                binary,
                f"--name={self.name}",
                f"--data-dir={self.data_dir / 'member'}",
                f"--listen-client-urls={self.endpoint}",
                f"--advertise-client-urls={self.endpoint}",
                f"--listen-peer-urls={peer}",
                f"--initial-advertise-peer-urls={peer}",
                f"--initial-cluster={self.cluster}",
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

    def wait_ready(self, timeout: float = 30.0) -> None:
        self._wait_ready(timeout)

    def kill(self) -> None:
        """SIGKILL: the member dies as with its machine."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

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


def etcd_cluster(
    data_dir: Path, hosts: Sequence[tuple[str, Sequence[str]]], *, timeout: float = 30.0
) -> list[Etcd]:
    """A new etcd cluster of one member per host, each `(address, exec prefix)`, on etcd's
    own ports (2379, 2380: each host is its own network namespace). Started and healthy."""
    names = [f"m{i}" for i in range(len(hosts))]
    cluster = ",".join(f"{n}=http://{h}:2380" for n, (h, _) in zip(names, hosts, strict=True))
    members = [
        Etcd(
            data_dir / name,
            host=host,
            name=name,
            ports=(2379, 2380),
            cluster=cluster,
            exec_prefix=prefix,
        )
        for name, (host, prefix) in zip(names, hosts, strict=True)
    ]
    try:
        for member in members:
            member.launch()
        for member in members:
            member.wait_ready(timeout)
    except BaseException:
        for member in members:
            member.stop()
        raise
    return members


def _stop_shared(etcd: Etcd) -> None:
    etcd.stop()
    shutil.rmtree(etcd.data_dir, ignore_errors=True)

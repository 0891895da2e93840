"""Real server processes for tests: free ports, start, wait until ready, stop or kill -9."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any


def wait_for(cond: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll `cond` until it is truthy and return its value; fail naming `what` on timeout.

    A connection refused or reset (OSError, which requests' errors are) counts as "not
    yet": a listener of another process may come up a moment after the one waited on."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = cond()
        except OSError as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}; last value: {last!r}")


def _ephemeral_low() -> int:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


_PORTS_FROM = 20000
_PORTS_TO = _ephemeral_low()  # the kernel's own picks for outgoing connections start here
_handed_out: set[int] = set()
_rng = random.Random(os.getpid())


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that nothing listens on right now, below the kernel's ephemeral range:
    a port the kernel picks (bind to 0) may be given to some outgoing connection before the
    test's server binds it (a redis test failed with "Address already in use" that way),
    one below that range only to a server that asks for it."""
    for _ in range(200) if _PORTS_TO - _PORTS_FROM > 1000 else ():
        port = _rng.randrange(_PORTS_FROM, _PORTS_TO)
        if port in _handed_out:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float = 20.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Wait until `url` answers any HTTP status; fail early if `proc` dies."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} was ready")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return
        except OSError as exc:
            last = exc
        time.sleep(0.05)
    raise TimeoutError(f"{url} not ready after {timeout}s: {last}")


class YurtProcess:
    """`python -m yurt ARGS...` as a child process with its output in a log file.

    Use as a context manager; `ready_url` is polled until it answers. `kill()` sends
    SIGKILL (for durability tests), `stop()` SIGTERM and waits.
    """

    def __init__(
        self,
        args: Sequence[str],
        *,
        ready_url: str | None,
        log_path: Path,
        env: dict[str, str] | None = None,
        timeout: float = 30.0,
        cwd: Path | None = None,
        prefix: Sequence[str] = (),
    ) -> None:
        self.args = list(args)
        self.prefix = list(prefix)  # a command that execs yurt, such as `ip netns exec NS`
        self.ready_url = ready_url
        self.log_path = log_path
        self.env = {**os.environ, **(env or {})}
        self.timeout = timeout
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> YurtProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [*self.prefix, sys.executable, "-m", "yurt", *self.args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env,
            cwd=self.cwd,
            start_new_session=True,
        )
        log.close()
        if self.ready_url:
            try:
                wait_http(self.ready_url, self.timeout, self.proc)
            except Exception as exc:
                self.stop()
                raise RuntimeError(f"{exc}\n--- log ---\n{self.log()}") from exc
        return self

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-8000:]
        except FileNotFoundError:
            return ""

    def stop(self, timeout: float = 15.0) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def __enter__(self) -> YurtProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

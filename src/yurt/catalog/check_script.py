"""Script checks (`Args`) as Consul's CheckMonitor runs them.

The command runs without a shell, in its own process group, with the agent's environment;
stdout and stderr together are its output, of which the last 4 KiB are kept (with Consul's
"Captured N of M bytes" preface when more came). Exit code 0 is passing, 1 warning, anything
else (a signal included) critical. A script still running at its timeout is killed with its
whole group, and the check is critical with Consul's "Timed out (1s) running check".
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import signal

from yurt.api.durations import SECOND, format_go_duration
from yurt.catalog.model import CRITICAL, PASSING, WARNING

# Consul's BufSize: the output kept of one run
OUTPUT_LIMIT = 4 * 1024
_CHUNK = 64 * 1024


def status_of(returncode: int) -> str:
    """Consul's mapping of a script's exit code (a negative one is a signal)."""
    if returncode == 0:
        return PASSING
    if returncode == 1:
        return WARNING
    return CRITICAL


def captured(tail: bytes, total: int) -> str:
    """The output Consul keeps: the last OUTPUT_LIMIT bytes, prefaced when some were cut."""
    text = tail.decode("utf-8", errors="replace")
    if total > len(tail):
        return f"Captured {len(tail)} of {total} bytes\n...\n{text}"
    return text


def exec_error(command: str, exc: OSError) -> str:
    """Go's os/exec error text for a command that cannot start."""
    if "/" not in command and exc.errno == errno.ENOENT:
        return f'exec: "{command}": executable file not found in $PATH'
    reason = (exc.strerror or str(exc)).lower()
    return f"fork/exec {command}: {reason}"


async def _read_tail(stream: asyncio.StreamReader) -> tuple[bytes, int]:
    """All of `stream`, of which only the last OUTPUT_LIMIT bytes are kept in memory."""
    tail = b""
    total = 0
    while chunk := await stream.read(_CHUNK):
        total += len(chunk)
        tail = (tail + chunk)[-OUTPUT_LIMIT:]
    return tail, total


async def _finish(proc: asyncio.subprocess.Process) -> tuple[bytes, int, int]:
    assert proc.stdout is not None
    tail, total = await _read_tail(proc.stdout)
    return tail, total, await proc.wait()


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


async def run_script(args: list[str], timeout_ns: int) -> tuple[str, str]:
    """(status, output) of one run of `args`."""
    try:
        proc = await asyncio.create_subprocess_exec(
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            # its own group: a timeout kills what the script started too
            start_new_session=True,
        )
    except OSError as exc:
        return CRITICAL, exec_error(args[0], exc)
    try:
        tail, total, returncode = await asyncio.wait_for(_finish(proc), timeout_ns / SECOND)
    except TimeoutError:
        _kill_group(proc)
        await proc.wait()
        return CRITICAL, f"Timed out ({format_go_duration(timeout_ns)}) running check"
    except asyncio.CancelledError:
        _kill_group(proc)
        raise
    return status_of(returncode), captured(tail, total)

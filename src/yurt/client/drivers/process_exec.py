"""`alloc exec` for tasks that are host processes (raw_exec, and exec through `nsenter`): the
command as a child of the client, in its own session, on pipes or on a pseudo-terminal."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import os
import pty
import signal
import struct
import subprocess
import termios
from pathlib import Path

from yurt.client.drivers.base import ExecStreams, TtySize

# The exit code and the text of Go's exec.ErrNotFound, which Nomad reports for a command
# that is not there.
NOT_FOUND_EXIT = 127


def not_found_text(command: str) -> str:
    return f'exec: "{command}": executable file not found in $PATH\n'


async def run_process_session(
    argv: list[str],
    *,
    env: dict[str, str],
    cwd: Path,
    tty: bool,
    streams: ExecStreams,
    take_terminal: bool = True,
) -> int:
    """Run `argv` wired to `streams`; its exit code (128+N when killed by signal N). With a
    terminal, `argv` is its session's leader unless `take_terminal` is false (a wrapper such
    as nsenter leaves that to the command it starts)."""
    master: int | None = None
    slave: int | None = None
    if tty:
        master, slave = pty.openpty()
        if streams.tty_size is not None:
            _resize(master, streams.tty_size)
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=slave if slave is not None else subprocess.PIPE,
            stdout=slave if slave is not None else subprocess.PIPE,
            stderr=slave if slave is not None else subprocess.PIPE,
            cwd=str(cwd),
            env=env,
            start_new_session=slave is None or not take_terminal,
            # The terminal becomes the new session's controlling one, so that ^C interrupts
            # and shells get job control.
            preexec_fn=(
                functools.partial(_take_terminal, slave)
                if slave is not None and take_terminal
                else None
            ),
        )
    except OSError as exc:
        for fd in (master, slave):
            if fd is not None:
                os.close(fd)
        text = (
            not_found_text(argv[0])
            if isinstance(exc, FileNotFoundError | NotADirectoryError)
            else f'exec: "{argv[0]}": {exc.strerror or exc}\n'
        )
        await streams.output("stderr", text.encode())
        return NOT_FOUND_EXIT if isinstance(exc, FileNotFoundError) else 126
    if slave is not None:
        os.close(slave)

    pumps: list[asyncio.Task[None]] = []
    if master is not None:
        pumps.append(asyncio.create_task(_pump_pty(master, streams)))
    else:
        assert proc.stdout is not None and proc.stderr is not None
        pumps.append(asyncio.create_task(_pump_pipe(proc.stdout, streams, "stdout")))
        pumps.append(asyncio.create_task(_pump_pipe(proc.stderr, streams, "stderr")))
    feeder = asyncio.create_task(_feed(proc, master, streams))
    try:
        code = await proc.wait()
        # A daemon the command left behind may hold the terminal: do not wait on it forever.
        await asyncio.wait(pumps, timeout=None if master is None else 2)
        return 128 - code if code < 0 else code
    finally:
        feeder.cancel()
        for pump in pumps:
            pump.cancel()
        # The command may have left its process group (a session of its own): its whole
        # tree goes.
        for pid in [proc.pid, *_descendants(proc.pid)]:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        if proc.returncode is None:
            await proc.wait()
        if master is not None:
            with contextlib.suppress(OSError):
                os.close(master)


async def _pump_pipe(stream: asyncio.StreamReader, streams: ExecStreams, key: str) -> None:
    while chunk := await stream.read(65536):
        await streams.output(key, chunk)


async def _pump_pty(master: int, streams: ExecStreams) -> None:
    loop = asyncio.get_running_loop()
    os.set_blocking(master, False)
    readable = asyncio.Event()
    loop.add_reader(master, readable.set)
    try:
        while True:
            await readable.wait()
            readable.clear()
            try:
                chunk = os.read(master, 65536)
            except BlockingIOError:
                continue
            except OSError:  # EIO: every holder of the terminal closed it
                return
            if not chunk:
                return
            await streams.output("stdout", chunk)
    finally:
        loop.remove_reader(master)


async def _feed(proc: asyncio.subprocess.Process, master: int | None, streams: ExecStreams) -> None:
    while True:
        item = await streams.input.get()
        try:
            if isinstance(item, TtySize):
                if master is not None:
                    _resize(master, item)
            elif item is None:
                if master is not None:
                    os.write(master, b"\x04")  # end of input, as a terminal says it
                elif proc.stdin is not None:
                    proc.stdin.close()
            elif master is not None:
                os.write(master, item)
            elif proc.stdin is not None:
                proc.stdin.write(item)
                await proc.stdin.drain()
        except (OSError, ConnectionError):  # the command stopped reading: drop the input
            continue


def _resize(master: int, size: TtySize) -> None:
    if size.height and size.width:
        fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", size.height, size.width, 0, 0))


def _take_terminal(slave: int) -> None:
    """In the child, between fork and exec. A new session first, done here rather than by
    start_new_session: uvloop runs this hook before its own setsid, and the terminal is the
    slave's fd, not fd 0, which uvloop may not have wired yet."""
    os.setsid()
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)


def _descendants(pid: int) -> list[int]:
    out: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        try:
            children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            out.append(child)
            todo.append(child)
    return out

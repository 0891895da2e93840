"""Job-file work run off the event loop, in a forked worker with a hard deadline.

Reading a job file is CPU work with no I/O: lark's parser runs at about half a megabyte a
second, and a hostile file can ask the evaluator for seconds of work before a limit in
`yurt.jobspec.limits` stops it (and a regular expression in `regex()` can backtrack with
the GIL held, where no step counter runs). On the event loop that would stall every role
of `yurt up`; in a thread it would still hold the GIL and could not be stopped.

So each parse runs in a child forked from the server: the fork shares the parent's
already-imported code (no start-up cost, no idle process, no memory while idle), the
child computes, pickles its answer into a pipe and exits, and the parent waits for the
pipe without blocking the loop. A child that is not done by the deadline is killed. The
child only computes: it never touches the parent's event loop, sockets or database, and
leaves with `os._exit`, so nothing of the parent's runs twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import resource
import signal
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from yurt.api.errors import APIError

T = TypeVar("T")

# How long one job file may take, parse and evaluation together, before its worker is
# killed. The evaluator's own clock (limits.EVAL_SECONDS) stops it sooner, with a
# diagnostic, unless the time goes where no counter runs (parsing, one regex).
DEADLINE_SECONDS = 10.0
# Workers at a time: more requests wait their turn instead of taking every core.
MAX_WORKERS = 2
# A worker's stack depth: the limits keep real recursion far below this; it is the safety
# margin for what they do not model.
_WORKER_RECURSION = 4000

_slots: asyncio.Semaphore | None = None
_slots_loop: asyncio.AbstractEventLoop | None = None


def _semaphore() -> asyncio.Semaphore:
    global _slots, _slots_loop
    loop = asyncio.get_running_loop()
    if _slots is None or _slots_loop is not loop:
        _slots, _slots_loop = asyncio.Semaphore(MAX_WORKERS), loop
    return _slots


async def run_isolated(
    fn: Callable[[Any], T], arg: Any, *, deadline: float = DEADLINE_SECONDS
) -> T:
    """`fn(arg)` in a forked worker; its APIError is raised here as it was raised there.

    A worker that runs past `deadline` seconds is killed and the call raises APIError(400)
    saying so; one that dies raises APIError(500)."""
    async with _semaphore():
        return await _run(fn, arg, deadline)


async def _run(fn: Callable[[Any], T], arg: Any, deadline: float) -> T:
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child, which leaves with os._exit
        os.close(read_fd)
        _child(fn, arg, write_fd, deadline)
    os.close(write_fd)
    try:
        data = await asyncio.wait_for(asyncio.to_thread(_read_all, read_fd), deadline)
    except TimeoutError:
        _kill(pid)
        raise APIError.bad_request(
            f"reading the job file took more than {deadline:g} seconds and was stopped; simplify it"
        ) from None
    except BaseException:
        _kill(pid)  # the request was cancelled: its worker is not needed any more
        raise
    finally:
        # The reading thread closes read_fd once the pipe ends (the kill ends it).
        await asyncio.to_thread(_reap, pid)
    result: T = _answer(data)
    return result


def _child(fn: Callable[[Any], Any], arg: Any, write_fd: int, deadline: float) -> None:
    """The worker: compute, write the pickled outcome, exit without running anything of
    the parent's (atexit handlers, finally blocks, the event loop)."""
    code = 0
    try:
        # Ctrl-C on `yurt up` reaches the whole process group: just die. And the parent's
        # signal wake-up descriptor must not hear the child's signals.
        with contextlib.suppress(ValueError, OSError):
            signal.set_wakeup_fd(-1)
        # Nothing of the parent's (listeners, connections, databases) stays open here.
        os.closerange(3, write_fd)
        os.closerange(write_fd + 1, _max_fd())
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)
        cpu = int(deadline) + 2
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
        sys.setrecursionlimit(_WORKER_RECURSION)
        try:
            outcome: tuple[Any, ...] = ("ok", fn(arg))
        except APIError as exc:
            outcome = ("error", exc.status, exc.message)
        except RecursionError:
            outcome = ("error", 400, "the job file nests too deeply to be read")
        except MemoryError:
            outcome = ("error", 400, "the job file needs too much memory to be read")
        except BaseException as exc:
            outcome = ("crash", f"{type(exc).__name__}: {exc}")
        data = pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)
        view = memoryview(data)
        while view:
            n = os.write(write_fd, view)
            view = view[n:]
    except BaseException:
        code = 1
    finally:
        os._exit(code)


def _max_fd() -> int:
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return soft if 0 < soft < 1 << 20 else 1 << 16


def _read_all(fd: int) -> bytes:
    chunks: list[bytes] = []
    try:
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
    finally:
        os.close(fd)


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


def _answer(data: bytes) -> Any:
    if not data:
        raise APIError(500, "the job file worker died without an answer; see the server log")
    outcome = pickle.loads(data)
    if outcome[0] == "ok":
        return outcome[1]
    if outcome[0] == "error":
        raise APIError(int(outcome[1]), str(outcome[2]))
    raise APIError(500, f"the job file worker failed: {outcome[1]}")

"""Running components until a signal: uvloop when present, clean shutdown on SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import gc
import logging
import resource
import signal
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any

from yurt import heap
from yurt.component import Component

log = logging.getLogger(__name__)


def run(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run `main()` on uvloop if it is installed, else on asyncio's default loop."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        asyncio.run(main())
        return
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main())


_nofile_raised = False


def raise_open_files_limit() -> tuple[int, int]:
    """Lift the soft RLIMIT_NOFILE to the hard limit, as Nomad and Consul do at start.

    A login shell's soft limit is often 1,024: a few hundred idle connections would then
    exhaust it and make every listener and the client's heartbeats fail with EMFILE.
    Returns (soft, hard) as they are afterwards; logged once per process."""
    global _nofile_raised
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard
    if target == resource.RLIM_INFINITY:
        # Linux refuses a soft limit above fs.nr_open even when the hard one is unlimited.
        target = _nr_open()
    if soft == resource.RLIM_INFINITY or (target != resource.RLIM_INFINITY and soft >= target):
        return soft, hard
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError) as exc:
        log.warning("could not raise the open files limit from %d to %d: %s", soft, target, exc)
        return soft, hard
    if not _nofile_raised:
        _nofile_raised = True
        log.info("raised the open files limit (RLIMIT_NOFILE) from %d to %d", soft, target)
    return target, hard


def _nr_open() -> int:
    try:
        with open("/proc/sys/fs/nr_open") as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return 1024 * 1024


# A server's state (jobs, allocations, the catalog) is a large, long-lived object graph: with
# Python's default thresholds a full collection walks all of it every few thousand
# allocations, pausing every role for up to 1.3 s at 5,000 nodes. These thresholds cut the
# longest pause to under 70 ms (bench/scheduler.py --gc-threshold 100000,50,100), and what
# was loaded at start is moved out of the collector's sight; cycles are still collected.
GC_THRESHOLDS = (100_000, 50, 100)


def tune_gc() -> None:
    gc.set_threshold(*GC_THRESHOLDS)
    gc.freeze()


async def serve_until_signal(
    components: Sequence[Component],
    *,
    on_ready: Callable[[], Awaitable[None] | None] | None = None,
) -> None:
    """Start `components` in order, wait for SIGINT/SIGTERM, stop them in reverse order."""
    raise_open_files_limit()
    heap.configure()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    started: list[Component] = []
    releaser: asyncio.Task[None] | None = None
    try:
        for component in components:
            await component.start()
            started.append(component)
        tune_gc()
        releaser = loop.create_task(heap.release_when_quiet())
        if on_ready is not None:
            result = on_ready()
            if result is not None:
                await result
        await stop.wait()
        log.info("shutting down")
    finally:
        if releaser is not None:
            releaser.cancel()
        for component in reversed(started):
            try:
                await component.stop()
            except Exception:
                log.exception("error stopping %s", component.name)

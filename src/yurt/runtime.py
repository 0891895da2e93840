"""Running components until a signal: uvloop when present, clean shutdown on SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any

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


async def serve_until_signal(
    components: Sequence[Component],
    *,
    on_ready: Callable[[], Awaitable[None] | None] | None = None,
) -> None:
    """Start `components` in order, wait for SIGINT/SIGTERM, stop them in reverse order."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    started: list[Component] = []
    try:
        for component in components:
            await component.start()
            started.append(component)
        if on_ready is not None:
            result = on_ready()
            if result is not None:
                await result
        await stop.wait()
        log.info("shutting down")
    finally:
        for component in reversed(started):
            try:
                await component.stop()
            except Exception:
                log.exception("error stopping %s", component.name)

"""The one blocking-query loop: read with the last index, wait for a change, back off on error.

Consul's documented rules for a client of blocking queries are applied in `next_index`: an
index that goes backwards (a restored or restarted catalog) resets the watch to 0, and an
index of 0 is taken as 1 (or every read would return at once).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import NoReturn

from yurt.consul_api.backoff import Backoff
from yurt.consul_api.errors import ConsulError

log = logging.getLogger(__name__)

Step = Callable[[int], Awaitable[int]]


def next_index(previous: int, answered: int) -> int:
    """The index of the next blocking read, after `answered` came back for `previous`."""
    if answered < previous:
        return 0
    return max(answered, 1)


async def watch(
    name: str,
    step: Step,
    backoff: Backoff,
    *,
    retry_on: tuple[type[Exception], ...] = (ConsulError,),
    logger: logging.Logger = log,
) -> NoReturn:
    """Run `step(index)` forever; it does one (blocking) read and returns the answer's index.

    An error in `retry_on` is logged once per outage and retried after `backoff`; any other
    error ends the watch (it is a bug, not the catalog's absence)."""
    index = 0
    failing = False
    while True:
        try:
            answered = await step(index)
        except retry_on as exc:
            if not failing:
                logger.warning("catalog watch %s: %s; retrying", name, exc)
            failing = True
            await asyncio.sleep(backoff.next())
            continue
        if failing:
            logger.info("catalog watch %s: connected again", name)
        failing = False
        backoff.reset()
        index = next_index(index, answered)

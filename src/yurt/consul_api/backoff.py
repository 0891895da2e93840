"""The one retry policy of the Consul callers: capped exponential backoff with jitter.

A caller that fails waits `initial * 2**n`, capped at `cap`, of which the upper half is random
("equal jitter"), so that components that lost the catalog together do not come back in step.
Pure: the random source is a parameter, so the bounds are tested by tables.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field


def backoff_delay(attempt: int, initial: float, cap: float, unit: float) -> float:
    """The wait before retry `attempt` (0 for the first), for `unit` in [0, 1]: a value in
    [d/2, d] where d = min(cap, initial * 2**attempt)."""
    ceiling = min(cap, initial * 2.0 ** min(attempt, 64))
    return ceiling / 2 + ceiling / 2 * min(max(unit, 0.0), 1.0)


@dataclass
class Backoff:
    """Successive waits of one failing caller; `reset` after a success."""

    initial: float = 0.25
    cap: float = 10.0
    rand: Callable[[], float] = field(default=random.random, repr=False)
    attempt: int = 0

    def next(self) -> float:
        delay = backoff_delay(self.attempt, self.initial, self.cap, self.rand())
        self.attempt += 1
        return delay

    def reset(self) -> None:
        self.attempt = 0

"""The restart policy: Nomad's restart tracker (attempts per interval, delay with jitter,
mode "fail" or "delay")."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Any

from yurt.api.durations import format_go_duration

_NS = 1_000_000_000


@dataclass(frozen=True)
class Decision:
    restart: bool
    delay: float  # seconds
    reason: str
    fails_task: bool = False


class RestartTracker:
    def __init__(self, policy: dict[str, Any] | None, job_type: str, *, seed: int | None = None):
        policy = policy or {}
        attempts = policy.get("Attempts")
        delay = policy.get("Delay")
        self.attempts = int(attempts) if attempts is not None else 2
        self.interval = int(policy.get("Interval") or 30 * 60 * _NS) / _NS
        self.delay = (int(delay) if delay is not None else 15 * _NS) / _NS
        self.mode = str(policy.get("Mode") or "fail")
        self.batch = job_type in ("batch", "sysbatch")
        self.count = 0
        self.interval_start = 0.0
        self._rng = random.Random(seed)

    def _jitter(self) -> float:
        return self.delay + self._rng.random() * self.delay * 0.25

    def next(self, *, successful: bool, now: float | None = None) -> Decision:
        """What to do after the task exited (or failed to start)."""
        if self.batch and successful:
            return Decision(False, 0.0, "Restart unnecessary as task terminated successfully")
        now = time.monotonic() if now is None else now
        if self.count == 0 or now - self.interval_start > self.interval:
            self.count = 0
            self.interval_start = now
        self.count += 1
        if self.count <= self.attempts:
            return Decision(True, self._jitter(), "Restart within policy")
        interval = format_go_duration(int(self.interval * _NS))
        reason = (
            f"Exceeded allowed attempts {self.attempts} in interval {interval} "
            f'and mode is "{self.mode}"'
        )
        if self.mode == "delay":
            wait = max(self.interval_start + self.interval - now, 0.0)
            self.count = 0
            self.interval_start = now + wait
            return Decision(True, wait, reason)
        return Decision(False, 0.0, reason, fails_task=True)

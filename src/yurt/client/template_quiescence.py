"""A template's `wait { min max }` quiescence (consul-template's): when a re-render that
data changes asked for is due, from the template's or the client's default wait, within the
client's `wait_bounds`. Pure: times are given, never read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from yurt.client.config import TemplateConfig

_NS = 1e9


@dataclass
class PendingChange:
    """A template whose data changed since it was last rendered (for `wait` quiescence)."""

    first: float
    last: float


@dataclass
class Quiescence:
    min_s: float = 0.0
    max_s: float = 0.0

    @classmethod
    def of(cls, tmpl: dict[str, Any], settings: TemplateConfig | None = None) -> Quiescence:
        """The template's `wait`, else the client's default, within the client's bounds."""
        settings = settings or TemplateConfig()
        wait = tmpl.get("Wait") or {}
        if wait.get("Min") or wait.get("Max"):
            min_s = float(wait.get("Min") or 0) / _NS
            max_s = float(wait.get("Max") or 0) / _NS
        else:
            min_s, max_s = settings.wait_min, settings.wait_max
        if min_s and not max_s:
            max_s = 4 * min_s  # consul-template: max defaults to 4 times min
        if settings.bounds_min is not None:
            min_s = max(min_s, settings.bounds_min)
        if settings.bounds_max is not None:
            max_s = min(max_s, settings.bounds_max)
            min_s = min(min_s, settings.bounds_max)
        return cls(min_s, max(max_s, min_s))

    def due(self, pending: PendingChange) -> float:
        """A render waits until no change came for `min`, but no longer than `max` after
        the first unrendered change."""
        if not self.min_s:
            return pending.last
        return min(pending.last + self.min_s, pending.first + self.max_s)

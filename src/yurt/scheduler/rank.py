"""Ranking as Nomad's generic stack does it: a lazily shuffled source of nodes, scores
(bin-packing or spread, job anti-affinity, reschedule penalty, affinities, spread blocks)
normalised to their mean, a limit on how many feasible nodes are scored, and the best of
those. Pure: no store, no I/O; the placer feeds it.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from yurt.scheduler.structs import Spread

T = TypeVar("T")

# Nomad's limit iterator skips up to MAX_SKIP nodes scoring at or below the threshold
# (a node whose penalties cancel its fit), taking them only when nothing else is left.
SKIP_SCORE_THRESHOLD = 0.0
MAX_SKIP = 3
# With affinities or spreads, scoring only a few nodes would miss the preferred ones:
# Nomad then scores the group's count, at least this many (its empirical floor).
SCORED_WITH_PREFERENCES = 100


def candidate_limit(job_type: str, nodes: int, *, preferences: bool, count: int) -> int:
    """How many feasible nodes one placement scores: 2 for batch (the power of two
    choices), ceil(log2(nodes)) for service (at least 2), and with affinities or spreads
    the group's count, at least 100."""
    if preferences:
        return max(count, SCORED_WITH_PREFERENCES)
    if job_type == "batch" or nodes <= 0:
        return 2
    return max(2, math.ceil(math.log2(nodes)))


# Up to this many nodes a placement usually reads the whole order anyway, and one full
# shuffle is cheaper than drawing position by position.
FULL_SHUFFLE_UP_TO = 64


class Shuffled(Generic[T]):
    """A uniformly random order of `items`, drawn as far as it is read: reading the first
    k positions costs O(k) swaps (an incremental Fisher-Yates), not a shuffle of all n.
    Small lists are shuffled whole at once."""

    def __init__(self, items: list[T], rng: random.Random) -> None:
        self._items = list(items)  # a C-speed copy; the swaps are what cost
        self._rng = rng
        self._drawn = 0
        if len(self._items) <= FULL_SHUFFLE_UP_TO:
            rng.shuffle(self._items)
            self._drawn = len(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, i: int) -> T:
        if i >= self._drawn:
            self._draw(i + 1)
        return self._items[i]

    def _draw(self, upto: int) -> None:
        items, draw, n = self._items, self._rng.random, len(self._items)
        for k in range(self._drawn, upto):
            # random() is one C call; randrange's checks would double the cost of a draw
            j = k + int(draw() * (n - k))
            items[k], items[j] = items[j], items[k]
        self._drawn = upto

    def walk(self, start: int) -> Iterator[T]:
        """Every item once, from position `start` round to the one before it."""
        items, draw, n = self._items, self._rng.random, len(self._items)
        for k in range(n):
            i = (start + k) % n
            # the draw of `_draw`, inline: one step per item walked is the common case
            while self._drawn <= i:
                d = self._drawn
                j = d + int(draw() * (n - d))
                items[d], items[j] = items[j], items[d]
                self._drawn = d + 1
            yield items[i]

    @property
    def drawn(self) -> int:
        return self._drawn


@dataclass(slots=True)
class Ranked(Generic[T]):
    """A feasible option and its scores; `final` is their mean (Nomad's FinalScore)."""

    option: T
    scores: dict[str, float] = field(default_factory=dict)
    final: float = 0.0

    def normalise(self) -> None:
        self.final = sum(self.scores.values()) / len(self.scores) if self.scores else 0.0


def limited(
    source: Iterator[Ranked[T]],
    limit: int,
    *,
    threshold: float = SKIP_SCORE_THRESHOLD,
    max_skip: int = MAX_SKIP,
) -> Iterator[Ranked[T]]:
    """At most `limit` options from `source`, passing over up to `max_skip` that score at
    or below `threshold`; those come back only once the source is exhausted."""
    skipped: list[Ranked[T]] = []
    handed_back = 0
    seen = 0
    while seen < limit:
        option = next(source, None)
        while option is not None and option.final <= threshold and len(skipped) < max_skip:
            skipped.append(option)
            option = next(source, None)
        if option is None:
            if handed_back >= len(skipped):
                return
            option = skipped[handed_back]
            handed_back += 1
        seen += 1
        yield option


def best(options: Iterator[Ranked[T]]) -> tuple[Ranked[T] | None, list[Ranked[T]]]:
    """The highest-scoring option (the first of equals) and every option seen."""
    top: Ranked[T] | None = None
    seen: list[Ranked[T]] = []
    for option in options:
        seen.append(option)
        if top is None or option.final > top.final:
            top = option
    return top, seen


def binpack_score(
    used_cpu: int, used_mem: int, cap_cpu: int, cap_mem: int, *, spread: bool
) -> float:
    """Nomad's fit score, 0..1: the more a node's CPU and memory would be used after the
    placement the higher with bin-packing; the reverse with the spread algorithm."""
    free_cpu = 1 - used_cpu / cap_cpu if cap_cpu else 0.0
    free_mem = 1 - used_mem / cap_mem if cap_mem else 0.0
    total = 10**free_cpu + 10**free_mem
    raw = total - 2 if spread else 20 - total
    return min(max(raw, 0.0), 18.0) / 18.0


def anti_affinity_score(collisions: int, count: int) -> float | None:
    """Penalty for a node that already runs this job's group (None: no collision)."""
    if collisions <= 0:
        return None
    return -1.0 * (collisions + 1) / max(count, 1)


def affinity_score(weights: list[int], matched: list[bool]) -> float | None:
    """The weighted share of the affinities a node matches (None: it matches none)."""
    total = sum(abs(w) for w in weights)
    got = sum(w for w, ok in zip(weights, matched, strict=True) if ok)
    if not total or not got:
        return None
    return got / total


def spread_score(
    spreads: list[Spread], counts: list[dict[str, int]], values: list[str | None], count: int
) -> float:
    """Nomad's spread boost for a node whose value of each spread's attribute is
    `values[i]`: towards each target's share of the group's count, or towards an even
    spread over the attribute's values when no targets are given; weighted."""
    total_weight = sum(abs(int(s.get("Weight") or 50)) for s in spreads) or 1
    desired_total = max(count, 1)
    score = 0.0
    for spread, per_value, value in zip(spreads, counts, values, strict=True):
        weight = int(spread.get("Weight") or 50) / total_weight
        if value is None:
            score -= weight
            continue
        used = per_value.get(value, 0)
        targets = spread.get("SpreadTarget") or []
        if targets:
            percent = next(
                (float(t.get("Percent") or 0) for t in targets if t.get("Value") == value), None
            )
            if percent is None:
                named = sum(float(t.get("Percent") or 0) for t in targets)
                percent = max(100.0 - named, 0.0)
            desired = percent / 100.0 * desired_total
            boost = -1.0 if desired <= 0 else (desired - used) / desired
        elif per_value:
            low, high = min(per_value.values()), max(per_value.values())
            boost = 0.0 if high == low else ((high - used) / (high - low)) * 2 - 1
        else:
            boost = 0.0
        score += max(min(boost, 1.0), -1.0) * weight
    return score

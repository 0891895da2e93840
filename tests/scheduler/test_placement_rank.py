"""The ranking pieces of placement as tables: the candidate limit, the limit iterator with
its skips, the max-score pick, the lazy shuffle and the scores (yurt.scheduler.rank)."""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Iterator

import pytest

from yurt.scheduler import rank
from yurt.scheduler.rank import Ranked


@pytest.mark.parametrize(
    ("job_type", "nodes", "preferences", "count", "expected"),
    [
        ("batch", 10_000, False, 1, 2),  # the power of two choices
        ("batch", 1, False, 1, 2),
        ("service", 0, False, 1, 2),
        ("service", 1, False, 1, 2),
        ("service", 4, False, 1, 2),
        ("service", 5, False, 1, 3),  # ceil(log2(5))
        ("service", 1_000, False, 1, 10),
        ("service", 1_024, False, 1, 10),
        ("service", 1_025, False, 1, 11),
        ("service", 5_000, False, 1, 13),
        ("service", 10_000, False, 1, 14),
        ("service", 5_000, True, 10, 100),  # affinities or spreads: at least 100
        ("service", 5_000, True, 250, 250),  # ... or the group's count
        ("batch", 5_000, True, 3, 100),
    ],
)
def test_candidate_limit(
    job_type: str, nodes: int, preferences: bool, count: int, expected: int
) -> None:
    assert rank.candidate_limit(job_type, nodes, preferences=preferences, count=count) == expected


def _options(scores: list[float]) -> list[Ranked[int]]:
    return [Ranked(i, {"s": s}, s) for i, s in enumerate(scores)]


@pytest.mark.parametrize(
    ("scores", "limit", "expected"),
    [
        ([0.5, 0.6, 0.7], 2, [0, 1]),
        ([0.5, 0.6, 0.7], 5, [0, 1, 2]),
        ([0.5, 0.6], 0, []),
        ([], 3, []),
        # a node at or below 0 is passed over while better ones remain
        ([-0.1, 0.5, 0.6], 2, [1, 2]),
        ([0.0, 0.5, 0.6], 2, [1, 2]),
        # at most 3 are passed over: the 4th low one is taken
        ([-1.0, -0.5, 0.0, -0.2, 0.9], 2, [3, 4]),
        # passed-over nodes come back, in order, once the source is exhausted
        ([-1.0, 0.3], 3, [1, 0]),
        ([-1.0, -0.5], 2, [0, 1]),
        ([-1.0, -0.5, -0.2], 5, [0, 1, 2]),
        ([-1.0, 0.4, -0.5, 0.7], 3, [1, 3, 0]),
    ],
)
def test_limit_iterator(scores: list[float], limit: int, expected: list[int]) -> None:
    out = [r.option for r in rank.limited(iter(_options(scores)), limit)]
    assert out == expected


def test_limit_iterator_reads_no_further_than_it_must() -> None:
    pulled: list[int] = []

    def source() -> Iterator[Ranked[int]]:
        for r in _options([0.1 * (i + 1) for i in range(100)]):
            pulled.append(r.option)
            yield r

    assert [r.option for r in rank.limited(source(), 4)] == [0, 1, 2, 3]
    assert pulled == [0, 1, 2, 3]


@pytest.mark.parametrize(
    ("scores", "expected"),
    [
        ([0.1, 0.9, 0.5], 1),
        ([0.7, 0.7, 0.2], 0),  # the first of equals
        ([-0.5, -0.2], 1),
        ([], None),
    ],
)
def test_best(scores: list[float], expected: int | None) -> None:
    top, seen = rank.best(iter(_options(scores)))
    assert (top.option if top else None) == expected
    assert [r.option for r in seen] == list(range(len(scores)))


def test_shuffled_is_a_permutation_drawn_as_far_as_read() -> None:
    items = list(range(1000))
    order = rank.Shuffled(items, random.Random(7))
    first = [order[i] for i in range(10)]
    assert order.drawn == 10  # nothing past what was read
    assert len(set(first)) == 10
    assert [order[i] for i in range(10)] == first  # stable once drawn
    whole = [order[i] for i in range(len(order))]
    assert sorted(whole) == items and whole != items
    assert items == list(range(1000))  # the caller's list is left alone
    again = rank.Shuffled(items, random.Random(7))
    assert [again[i] for i in range(10)] == first  # the seed decides


def test_shuffled_small_lists_are_shuffled_whole() -> None:
    order = rank.Shuffled(list(range(rank.FULL_SHUFFLE_UP_TO)), random.Random(1))
    assert order.drawn == rank.FULL_SHUFFLE_UP_TO


@pytest.mark.parametrize("size", [10, 500])
def test_shuffled_first_position_is_uniform(size: int) -> None:
    """Every item is as likely to come first: a chi-square test at a 0.1% false alarm."""
    runs = 20 * size
    firsts = Counter(rank.Shuffled(list(range(size)), random.Random(s))[0] for s in range(runs))
    expected = runs / size
    chi2 = sum((firsts.get(i, 0) - expected) ** 2 / expected for i in range(size))
    dof = size - 1
    # Wilson-Hilferty: the 99.9th percentile of chi-square with `dof` degrees of freedom
    z = 3.09
    bound = dof * (1 - 2 / (9 * dof) + z * math.sqrt(2 / (9 * dof))) ** 3
    assert chi2 < bound


@pytest.mark.parametrize(
    ("used_cpu", "used_mem", "cap_cpu", "cap_mem", "spread", "expected"),
    [
        (1000, 1000, 1000, 1000, False, 1.0),  # full after placing: best bin-packing fit
        (0, 0, 1000, 1000, False, 0.0),  # empty: worst fit (20 - 10 - 10 = 0)
        (500, 500, 1000, 1000, False, (20 - 2 * 10**0.5) / 18),
        (1000, 1000, 1000, 1000, True, 0.0),  # the spread algorithm wants the reverse
        (0, 0, 1000, 1000, True, 1.0),
        (500, 500, 1000, 1000, True, (2 * 10**0.5 - 2) / 18),
        (100, 100, 0, 0, False, 1.0),  # no capacity reads as full
    ],
)
def test_binpack_score(
    used_cpu: int, used_mem: int, cap_cpu: int, cap_mem: int, spread: bool, expected: float
) -> None:
    score = rank.binpack_score(used_cpu, used_mem, cap_cpu, cap_mem, spread=spread)
    assert score == pytest.approx(expected)


@pytest.mark.parametrize(
    ("collisions", "count", "expected"),
    [(0, 3, None), (1, 3, -2 / 3), (2, 3, -1.0), (1, 0, -2.0)],
)
def test_anti_affinity_score(collisions: int, count: int, expected: float | None) -> None:
    assert rank.anti_affinity_score(collisions, count) == expected


@pytest.mark.parametrize(
    ("weights", "matched", "expected"),
    [
        ([50], [True], 1.0),
        ([50], [False], None),
        ([50, 50], [True, False], 0.5),
        ([100, -50], [False, True], -50 / 150),
        ([0], [True], None),
    ],
)
def test_affinity_score(weights: list[int], matched: list[bool], expected: float | None) -> None:
    assert rank.affinity_score(weights, matched) == expected


DC_SPREAD = {"Attribute": "${node.datacenter}", "Weight": 100}
TARGETED = {
    "Attribute": "${node.datacenter}",
    "Weight": 100,
    "SpreadTarget": [{"Value": "dc1", "Percent": 75}, {"Value": "dc2", "Percent": 25}],
}


@pytest.mark.parametrize(
    ("spread", "counts", "value", "count", "expected"),
    [
        (DC_SPREAD, {"dc1": 2, "dc2": 0}, "dc2", 4, 1.0),  # the emptiest value: full boost
        (DC_SPREAD, {"dc1": 2, "dc2": 0}, "dc1", 4, -1.0),  # the fullest: full penalty
        (DC_SPREAD, {"dc1": 1, "dc2": 1}, "dc1", 4, 0.0),  # even: no preference
        (DC_SPREAD, {"dc1": 2, "dc2": 1, "dc3": 0}, "dc2", 4, 0.0),
        (DC_SPREAD, {"dc1": 1}, None, 4, -1.0),  # the node lacks the attribute
        (TARGETED, {"dc1": 0, "dc2": 0}, "dc1", 4, 1.0),
        (TARGETED, {"dc1": 3, "dc2": 0}, "dc1", 4, 0.0),  # dc1 has its 75% of 4
        (TARGETED, {"dc1": 0, "dc2": 1}, "dc2", 4, 0.0),
        (TARGETED, {"dc1": 0, "dc2": 0, "dc3": 0}, "dc3", 4, -1.0),  # no share left
    ],
)
def test_spread_score(
    spread: dict[str, object],
    counts: dict[str, int],
    value: str | None,
    count: int,
    expected: float,
) -> None:
    assert rank.spread_score([spread], [counts], [value], count) == pytest.approx(expected)

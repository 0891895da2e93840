"""The one retry policy: capped exponential backoff with equal jitter, by tables."""

from __future__ import annotations

import pytest

from yurt.consul_api.backoff import Backoff, backoff_delay


@pytest.mark.parametrize(
    ("attempt", "initial", "cap", "unit", "want"),
    [
        # the lower bound (no jitter drawn): half of the doubled delay
        (0, 0.25, 10.0, 0.0, 0.125),
        (1, 0.25, 10.0, 0.0, 0.25),
        (3, 0.25, 10.0, 0.0, 1.0),
        # the upper bound: the doubled delay itself
        (0, 0.25, 10.0, 1.0, 0.25),
        (3, 0.25, 10.0, 1.0, 2.0),
        # the cap bounds both ends, however many attempts
        (6, 0.25, 10.0, 1.0, 10.0),
        (6, 0.25, 10.0, 0.0, 5.0),
        (1000, 0.25, 10.0, 1.0, 10.0),
        # halfway
        (2, 0.5, 5.0, 0.5, 1.5),
        # a random source outside [0, 1] is clamped
        (0, 1.0, 10.0, 7.0, 1.0),
        (0, 1.0, 10.0, -3.0, 0.5),
    ],
)
def test_backoff_delay(attempt: int, initial: float, cap: float, unit: float, want: float) -> None:
    assert backoff_delay(attempt, initial, cap, unit) == pytest.approx(want)


@pytest.mark.parametrize(
    ("initial", "cap", "unit", "want"),
    [
        (0.25, 10.0, 1.0, [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]),
        (0.25, 10.0, 0.0, [0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 5.0, 5.0]),
        (0.5, 1.0, 1.0, [0.5, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]),
    ],
)
def test_successive_waits_then_reset(
    initial: float, cap: float, unit: float, want: list[float]
) -> None:
    backoff = Backoff(initial=initial, cap=cap, rand=lambda: unit)
    assert [backoff.next() for _ in want] == pytest.approx(want)
    backoff.reset()
    assert backoff.next() == pytest.approx(want[0])


def test_jitter_stays_within_bounds() -> None:
    backoff = Backoff(initial=0.25, cap=10.0)
    for attempt in range(12):
        ceiling = min(10.0, 0.25 * 2**attempt)
        assert ceiling / 2 <= backoff.next() <= ceiling

"""How long the router's catalog watcher waits before asking again after a changed
whole-catalog answer: in proportion to the answer's size, capped, and only while changes
stream in (pure, by tables)."""

import pytest

from yurt.router.watcher import (
    FULL_READ_MAX_DEFER_S,
    FULL_READ_QUIET_S,
    PACE_COST_MAX_S,
    PACE_MAX_S,
    full_read_at,
    pace,
    pace_after,
)


@pytest.mark.parametrize(
    ("items", "seconds"),
    [
        (0, 0.0),
        (10, 0.0002),  # a dev stack: well under a millisecond
        (3_000, 0.06),  # 1,000 services x 3 instances: many changes per answer
        (12_500, 0.25),  # the cap is reached here
        (30_000, PACE_MAX_S),  # 10,000 x 3: capped, the table still follows within 1 s
    ],
)
def test_pace(items: int, seconds: float) -> None:
    assert pace(items) == pytest.approx(seconds)


def test_pace_grows_with_the_answer_and_stops_at_the_cap() -> None:
    waits = [pace(n) for n in range(0, 40_000, 500)]
    assert waits == sorted(waits)
    assert max(waits) == PACE_MAX_S


@pytest.mark.parametrize(
    ("items", "waited_s", "seconds"),
    [
        (30_000, 0.0, PACE_MAX_S),  # the answer came at once: changes stream in
        (30_000, 0.1, PACE_MAX_S),
        (30_000, PACE_MAX_S, 0.0),  # it blocked as long as a pace: a lone change
        (30_000, 60.0, 0.0),  # after a quiet minute: a health flap, answered unpaced
        (3_000, 0.05, 0.06),
        (3_000, 0.07, 0.0),
        (0, 0.0, 0.0),
    ],
)
def test_pace_after(items: int, waited_s: float, seconds: float) -> None:
    assert pace_after(items, waited_s) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("items", "waited_s", "cost_s", "seconds"),
    [
        (30_000, 0.0, 0.1, 0.25),  # twice the cost is under the size's pace: the size's
        (30_000, 0.0, 0.2, 0.4),  # twice what handling the last answer cost
        (30_000, 0.0, 1.0, PACE_COST_MAX_S),  # never longer than the cost's cap
        (100, 0.0, 0.01, 0.02),  # a small catalog with a slow cycle: still paced by cost
        (30_000, 0.3, 0.2, 0.4),  # came within the pace: changes still stream in
        (30_000, 0.5, 0.2, 0.0),  # blocked longer than the pace: a lone change, unpaced
        (30_000, 60.0, 1.0, 0.0),
    ],
)
def test_pace_after_weighs_the_cost_of_the_last_cycle(
    items: int, waited_s: float, cost_s: float, seconds: float
) -> None:
    assert pace_after(items, waited_s, cost_s) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("allowed_at", "changed_at", "first_change_at", "starts_at"),
    [
        # one change, then quiet: a second after it
        (0.0, 100.0, 100.0, 100.0 + FULL_READ_QUIET_S),
        # changes streaming in: a second after the last one
        (0.0, 112.5, 100.0, 112.5 + FULL_READ_QUIET_S),
        # a stream that never ends: at most the deferral after the first change
        (0.0, 199.0, 100.0, 100.0 + FULL_READ_MAX_DEFER_S),
        # the last read of every service was recent: not before a tenth of the time
        (150.0, 100.0, 100.0, 150.0),
        (150.0, 199.0, 100.0, 150.0),
    ],
)
def test_the_read_of_every_service_waits_for_the_services_to_settle(
    allowed_at: float, changed_at: float, first_change_at: float, starts_at: float
) -> None:
    assert full_read_at(allowed_at, changed_at, first_change_at) == pytest.approx(starts_at)

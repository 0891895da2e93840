"""How long the router's catalog watcher waits before asking again after a changed
whole-catalog answer: in proportion to the answer's size, capped (pure, by a table)."""

import pytest

from yurt.router.watcher import PACE_MAX_S, pace


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

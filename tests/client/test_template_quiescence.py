"""A template's `wait` quiescence: when a re-render is due (pure, times given)."""

from __future__ import annotations

from yurt.client.config import TemplateConfig
from yurt.client.template_quiescence import PendingChange, Quiescence

S = 1_000_000_000


def test_wait_renders_after_min_of_quiet_but_no_later_than_max() -> None:
    q = Quiescence.of({"Wait": {"Min": 2_000_000_000, "Max": 5_000_000_000}})
    assert q.due(PendingChange(first=100.0, last=100.0)) == 102.0
    assert q.due(PendingChange(first=100.0, last=101.5)) == 103.5
    assert q.due(PendingChange(first=100.0, last=104.0)) == 105.0  # max caps a flapping key
    assert Quiescence.of({"Wait": {"Min": 1_000_000_000}}).max_s == 4.0
    assert Quiescence.of({}).due(PendingChange(first=7.0, last=9.0)) == 9.0


def test_client_default_wait_applies_to_templates_without_one_within_the_bounds() -> None:
    settings = TemplateConfig(wait_min=2.0, wait_max=10.0, bounds_max=5.0)
    # No wait of its own: the client's default, its max cut to the bound.
    assert Quiescence.of({}, settings) == Quiescence(2.0, 5.0)
    # Its own wait wins over the default, and is clamped too.
    assert Quiescence.of({"Wait": {"Min": 1 * S, "Max": 30 * S}}, settings) == Quiescence(1.0, 5.0)
    assert Quiescence.of({"Wait": {"Min": 1 * S}}, TemplateConfig(bounds_min=3.0)) == Quiescence(
        3.0, 4.0
    )
    # yurt's default: no wait at all, a change is rendered at once.
    assert Quiescence.of({}, TemplateConfig()) == Quiescence(0.0, 0.0)

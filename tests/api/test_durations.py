import pytest

from yurt.api.durations import (
    MILLISECOND,
    MINUTE,
    SECOND,
    duration_from_json,
    format_go_duration,
    parse_go_duration,
)


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("0", 0),
        ("10s", 10 * SECOND),
        ("60000ms", 60 * SECOND),
        ("5m", 5 * MINUTE),
        ("1h30m", 90 * MINUTE),
        ("1.5s", 1500 * MILLISECOND),
        ("-2s", -2 * SECOND),
        ("250us", 250_000),
        ("7ns", 7),
    ],
)
def test_parse_go_duration(text: str, ns: int) -> None:
    assert parse_go_duration(text) == ns


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("10", "missing unit"),
        ("ten seconds", "expected a number"),
        ("5x", "missing unit"),
    ],
)
def test_parse_go_duration_rejects(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_go_duration(text)


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (0, "0s"),
        (10 * SECOND, "10s"),
        (90 * MINUTE, "1h30m0s"),
        (1500 * MILLISECOND, "1.5s"),
        (500 * MILLISECOND, "500ms"),
        (3 * MINUTE + 5 * SECOND, "3m5s"),
    ],
)
def test_format_go_duration(ns: int, text: str) -> None:
    assert format_go_duration(ns) == text


def test_duration_from_json_names_the_field() -> None:
    assert duration_from_json("10s", "Interval") == 10 * SECOND
    assert duration_from_json(5, "Interval") == 5
    with pytest.raises(ValueError, match="Interval: expected a duration"):
        duration_from_json(True, "Interval")
    with pytest.raises(ValueError, match='Interval: invalid duration "soon"'):
        duration_from_json("soon", "Interval")

from yurt.cli.output import (
    format_kv,
    format_list,
    humanize_ibytes,
    parse_rfc3339,
    pretty_time_diff,
)


def test_format_list_pads_all_but_the_last_column() -> None:
    text = format_list([["ID", "Status"], ["abcdef12", "running"], ["x", "dead"]])
    assert text.splitlines() == ["ID        Status", "abcdef12  running", "x         dead"]


def test_format_kv_aligns_on_equals() -> None:
    assert format_kv([("ID", "job-nginx"), ("Submit Date", "x")]).splitlines() == [
        "ID          = job-nginx",
        "Submit Date = x",
    ]


def test_pretty_time_diff_keeps_two_units() -> None:
    now = 1_000_000.0
    ns = int(now * 1e9)
    assert pretty_time_diff(ns, now) == "0s ago"
    assert pretty_time_diff(ns - 75 * 10**9, now) == "1m15s ago"
    assert pretty_time_diff(ns - (3600 + 5 * 60 + 7) * 10**9, now) == "1h5m ago"
    assert pretty_time_diff(ns - (2 * 86400 + 3 * 3600) * 10**9, now) == "2d3h ago"
    assert pretty_time_diff(ns + 30 * 10**9, now) == "30s from now"
    assert pretty_time_diff(0, now) == ""


def test_humanize_ibytes_like_go_humanize() -> None:
    assert humanize_ibytes(300 << 20) == "300 MiB"
    assert humanize_ibytes(128 << 20) == "128 MiB"
    assert humanize_ibytes(int(1.5 * (1 << 30))) == "1.5 GiB"
    assert humanize_ibytes(5) == "5 B"


def test_parse_rfc3339_takes_go_nanoseconds_and_zero_time() -> None:
    t = parse_rfc3339("2026-11-25T08:00:00.123456789Z")
    assert t is not None and t.microsecond == 123456
    assert parse_rfc3339("0001-01-01T00:00:00Z") is None
    assert parse_rfc3339(None) is None

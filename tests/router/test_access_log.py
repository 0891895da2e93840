"""The access log's compiled patterns: every field, literal text, and the per-second stamps."""

from __future__ import annotations

import asyncio
import io
import time

import pytest

from yurt.router.access_log import KNOWN, AccessLog, AccessLogError

START = 1_700_000_000.25
HEADERS = [(b"Host", b"example.com"), (b"User-Agent", b"curl/8"), (b"referer", b"http://r/")]


def line(fmt: str, *, start: float = START, end: float = START + 0.015625) -> str:
    out = io.StringIO()
    AccessLog(fmt, out).log(
        start,
        end,
        "10.0.0.1",
        b"GET",
        b"/a?b=1",
        "1.1",
        HEADERS,
        200,
        2050,
        "127.0.0.1:8080",
        "web",
    )
    return out.getvalue()


def test_common_and_combined() -> None:
    stamp = time.strftime("%d/%b/%Y:%H:%M:%S %z", time.localtime(START))
    common = f'10.0.0.1 - - [{stamp}] "GET /a?b=1 HTTP/1.1" 200 2050'
    assert line("common") == common + "\n"
    assert line("combined") == common + ' "http://r/" "curl/8"\n'


@pytest.mark.parametrize(
    ("field", "want"),
    [
        ("remote_addr", "10.0.0.1"),
        ("remote_host", "10.0.0.1"),
        ("remote_port", ""),
        ("request", "GET /a?b=1 HTTP/1.1"),
        ("request_method", "GET"),
        ("request_uri", "/a?b=1"),
        ("request_proto", "HTTP/1.1"),
        ("request_host", "example.com"),
        ("response_status", "200"),
        ("response_body_size", "2050"),
        ("response_time_ms", "15.625"),
        ("response_time_us", "15625"),
        ("response_time_ns", "15625000"),
        ("time_unix_ms", "1700000000250"),
        ("upstream_addr", "127.0.0.1:8080"),
        ("upstream_service", "web"),
        ("header.user-agent", "curl/8"),
        ("header.Referer", "http://r/"),
        ("header.X-Missing", ""),
    ],
)
def test_each_field(field: str, want: str) -> None:
    assert line(f"<${field}>") == f"<{want}>\n"


def test_every_known_field_compiles() -> None:
    fmt = " ".join("$" + name for name in sorted(KNOWN))
    assert line(fmt).count(" ") >= len(KNOWN) - 1


def test_stamps_follow_the_clock() -> None:
    out = io.StringIO()
    log = AccessLog("$time_rfc3339|$time_common", out)
    for start in (START, START + 0.5, START + 1, START + 3600):
        log.log(start, start, "", b"GET", b"/", "1.1", [], 200, 0, "", "")
    got = out.getvalue().splitlines()
    want = [
        time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(t))
        + "|"
        + time.strftime("%d/%b/%Y:%H:%M:%S %z", time.localtime(t))
        for t in (START, START + 0.5, START + 1, START + 3600)
    ]
    assert got == want
    assert got[0] == got[1] and got[1] != got[2]


def test_percent_and_plain_text_are_kept() -> None:
    assert line("100% $response_status %s $") == "100% 200 %s $\n"


def test_unknown_field_is_rejected() -> None:
    with pytest.raises(AccessLogError, match=r"unknown field \$nope"):
        AccessLog("$nope")


class CountingStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.flushes = 0

    def flush(self) -> None:
        self.flushes += 1
        super().flush()


async def test_lines_are_flushed_soon_and_not_one_by_one() -> None:
    out = CountingStream()
    log = AccessLog("$response_status", out)
    log.FLUSH_AFTER = 0.05
    for _ in range(100):
        log.log(START, START, "", b"GET", b"/", "1.1", [], 200, 0, "", "")
    assert out.flushes == 0
    for _ in range(100):
        if out.flushes:
            break
        await asyncio.sleep(0.01)
    assert out.flushes == 1
    assert out.getvalue() == "200\n" * 100


def test_outside_an_event_loop_each_line_is_flushed() -> None:
    out = CountingStream()
    AccessLog("$response_status", out).log(
        START, START, "", b"GET", b"/", "1.1", [], 200, 0, "", ""
    )
    assert out.flushes == 1

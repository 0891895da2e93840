"""The browser guard's decisions, as a table: which Origin/Host/Sec-Fetch-* pass a listener."""

from __future__ import annotations

import pytest

from yurt.api.guard import BrowserGuard, is_loopback, parse_origin

LOOPBACK = BrowserGuard("127.0.0.1")
LOOPBACK_TLS = BrowserGuard("127.0.0.1", tls=True)
WILDCARD = BrowserGuard("0.0.0.0", advertise=["10.1.2.3"])
BOUND = BrowserGuard("10.1.2.3", advertise=["nomad.internal"])
PROXIED = BrowserGuard("127.0.0.1", allowed_origins=["https://ops.example.com"])


@pytest.mark.parametrize(
    ("guard", "headers", "allowed"),
    [
        # CLIs and libraries: no Origin, the address they were given.
        (LOOPBACK, {"Host": "127.0.0.1:4646"}, True),
        (LOOPBACK, {"Host": "localhost:8500"}, True),
        (LOOPBACK, {"Host": "[::1]:8500"}, True),
        (LOOPBACK, {"Host": "127.3.4.5"}, True),
        (LOOPBACK, {}, True),
        # The request: a foreign page, a foreign Host.
        (
            LOOPBACK,
            {"Host": "attacker.example:4646", "Origin": "http://attacker.example"},
            False,
        ),
        # A foreign Origin with a loopback Host (a plain cross-site fetch).
        (LOOPBACK, {"Host": "127.0.0.1:4646", "Origin": "http://attacker.example"}, False),
        # DNS rebinding: same-origin with itself, but the Host gives it away.
        (
            LOOPBACK,
            {"Host": "rebind.example:4646", "Origin": "http://rebind.example:4646"},
            False,
        ),
        (LOOPBACK, {"Host": "rebind.example:4646"}, False),
        # The listener's own UI pages.
        (LOOPBACK, {"Host": "127.0.0.1:4646", "Origin": "http://127.0.0.1:4646"}, True),
        (LOOPBACK, {"Host": "localhost:4646", "Origin": "http://localhost:4646"}, True),
        # Another port on the same host is another origin.
        (LOOPBACK, {"Host": "127.0.0.1:4646", "Origin": "http://127.0.0.1:8500"}, False),
        # The scheme is part of the origin.
        (LOOPBACK, {"Host": "127.0.0.1:4646", "Origin": "https://127.0.0.1:4646"}, False),
        (LOOPBACK_TLS, {"Host": "127.0.0.1:4646", "Origin": "https://127.0.0.1:4646"}, True),
        (LOOPBACK_TLS, {"Host": "127.0.0.1", "Origin": "https://127.0.0.1:443"}, True),
        # Sandboxed frames and file:// pages send "null".
        (LOOPBACK, {"Host": "127.0.0.1:4646", "Origin": "null"}, False),
        # A no-cors GET from another site carries no Origin, but Sec-Fetch-Site tells.
        (LOOPBACK, {"Host": "127.0.0.1:4646", "Sec-Fetch-Site": "cross-site"}, False),
        (
            LOOPBACK,
            {
                "Host": "127.0.0.1:4646",
                "Sec-Fetch-Site": "cross-site",
                "Sec-Fetch-Mode": "navigate",
            },
            True,
        ),
        (LOOPBACK, {"Host": "127.0.0.1:4646", "Sec-Fetch-Site": "same-origin"}, True),
        # A listener on every address: IP literals cannot be rebound, names must be its own.
        (WILDCARD, {"Host": "192.0.2.7:4646"}, True),
        (WILDCARD, {"Host": "10.1.2.3:4646", "Origin": "http://10.1.2.3:4646"}, True),
        (WILDCARD, {"Host": "rebind.example:4646"}, False),
        # A listener on one address: that address and its advertised names.
        (BOUND, {"Host": "10.1.2.3:4646"}, True),
        (BOUND, {"Host": "nomad.internal:4646", "Origin": "http://nomad.internal:4646"}, True),
        (BOUND, {"Host": "192.0.2.7:4646"}, False),
        (BOUND, {"Host": "127.0.0.1:4646"}, True),
        # A reverse proxy in front of the UI, allowed by http_allowed_origins.
        (PROXIED, {"Host": "ops.example.com", "Origin": "https://ops.example.com"}, True),
        (PROXIED, {"Host": "127.0.0.1:4646", "Origin": "https://ops.example.com"}, True),
        (PROXIED, {"Host": "ops.example.com", "Origin": "https://evil.example.com"}, False),
        # Garbage in Host is not a host.
        (LOOPBACK, {"Host": "127.0.0.1:http"}, False),
        (LOOPBACK, {"Host": "[::1"}, False),
    ],
)
def test_guard_decisions(guard: BrowserGuard, headers: dict[str, str], allowed: bool) -> None:
    reason = guard.check(headers)
    assert (reason is None) == allowed, reason


def test_a_refusal_says_what_was_wrong_and_how_to_allow_it() -> None:
    reason = LOOPBACK.check({"Host": "127.0.0.1:4646", "Origin": "http://attacker.example"})
    assert reason is not None
    assert "http://attacker.example" in reason
    assert "http_allowed_origins" in reason
    reason = LOOPBACK.check({"Host": "rebind.example:4646"})
    assert reason is not None
    assert "rebind.example" in reason
    assert "rebinding" in reason


@pytest.mark.parametrize(
    ("text", "origin"),
    [
        ("http://Example.COM", "http://example.com"),
        ("https://example.com:443", "https://example.com"),
        ("http://example.com:8080/", "http://example.com:8080"),
        ("http://[::1]:4646", "http://[::1]:4646"),
    ],
)
def test_origins_are_normalised(text: str, origin: str) -> None:
    assert parse_origin(text) == origin


@pytest.mark.parametrize(
    "text", ["example.com", "ftp://example.com", "http://example.com/ui", "http://x:port"]
)
def test_a_bad_origin_is_an_error_that_says_why(text: str) -> None:
    with pytest.raises(ValueError, match="is not an origin"):
        parse_origin(text)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("127.0.0.1", True),
        ("127.9.9.9", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("10.0.0.1", False),
        ("localhost.attacker.example", False),
    ],
)
def test_loopback_names(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback

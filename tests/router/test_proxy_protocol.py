"""Reading PROXY protocol headers (v1 and v2) as load balancers send them."""

from __future__ import annotations

import ipaddress
import struct

import pytest

from yurt.router.config import ConfigError, format_listeners, parse_listeners
from yurt.router.proxy_protocol import V2_SIGNATURE, ProxyHeaderError, read_proxy_header


def v2(command: int, family: int, block: bytes) -> bytes:
    return V2_SIGNATURE + bytes([0x20 | command, family]) + struct.pack("!H", len(block)) + block


def v2_tcp4(src: str, sport: int, extra: bytes = b"") -> bytes:
    block = ipaddress.IPv4Address(src).packed + ipaddress.IPv4Address("10.0.0.1").packed
    return v2(1, 0x11, block + struct.pack("!HH", sport, 80) + extra)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"PROXY TCP4 203.0.113.7 10.0.0.1 5555 80\r\nGET /", (41, ("203.0.113.7", 5555))),
        (b"PROXY TCP6 2001:db8::7 2001:db8::1 6000 443\r\n", (45, ("2001:db8::7", 6000))),
        (b"PROXY UNKNOWN\r\n", (15, None)),
        (b"PROXY UNKNOWN ffff:f...f ffff:f...f 65535 65535\r\n", (49, None)),
        (b"GET / HTTP/1.1\r\n", (0, None)),  # no header: served as it is
        (b"\x16\x03\x01\x02\x00", (0, None)),
        (b"PROXY TCP4 203.0.113.7", None),  # more bytes needed
        (b"PRO", None),
        (b"\r\n\r\n\x00", None),
        (b"", None),
        (v2_tcp4("198.51.100.9", 4000), (28, ("198.51.100.9", 4000))),
        (v2_tcp4("198.51.100.9", 4000, b"\x04\x00\x01x"), (32, ("198.51.100.9", 4000))),  # TLVs
        (v2_tcp4("198.51.100.9", 4000)[:20], None),
        (v2(0, 0x00, b""), (16, None)),  # LOCAL: the balancer's own health check
        (
            v2(1, 0x21, ipaddress.IPv6Address("2001:db8::9").packed + bytes(16) + b"\x0f\xa0\0P"),
            (52, ("2001:db8::9", 4000)),
        ),
        (v2(1, 0x31, bytes(216)), (232, None)),  # a unix socket: the TCP peer stands
    ],
)
def test_read_proxy_header(data: bytes, expected: tuple[int, object] | None) -> None:
    assert read_proxy_header(data) == expected


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"PROXY TCP4 nonsense\r\n", "bad PROXY v1 line"),
        (b"PROXY TCP4 2001:db8::7 10.0.0.1 1 2\r\n", "bad PROXY v1 line"),
        (b"PROXY TCP4 1.2.3.4 10.0.0.1 70000 80\r\n", "bad PROXY v1 line"),
        (b"PROXY UDP4 1.2.3.4 10.0.0.1 1 2\r\n", "bad PROXY v1 line"),
        (b"PROXY " + b"x" * 120, "longer than 107 bytes"),
        (V2_SIGNATURE + b"\x11\x11\x00\x00", "version/command"),
        (V2_SIGNATURE + b"\x21\x11\xff\xff", "too long"),
    ],
)
def test_bad_proxy_headers(data: bytes, error: str) -> None:
    with pytest.raises(ProxyHeaderError, match=error):
        read_proxy_header(data)


def test_listener_options() -> None:
    [li] = parse_listeners(":9999;pxyproto=true;pxytimeout=1s")
    assert li.proxy_protocol and li.proxy_header_timeout == 1.0
    assert format_listeners([li]) == "0.0.0.0:9999;pxyproto=true;pxytimeout=1s"
    [li] = parse_listeners(":9999;pxyproto=true")
    assert li.proxy_header_timeout == 0.25  # Fabio's default
    [li] = parse_listeners(":9999")
    assert li.proxy_header_timeout is None
    with pytest.raises(ConfigError, match="pxyproto=true is supported on listeners without TLS"):
        parse_listeners(":443;proto=https;cs=a;pxyproto=true")
    with pytest.raises(ConfigError, match="pxytimeout"):
        parse_listeners(":1;pxyproto=true;pxytimeout=soon")
    with pytest.raises(ConfigError, match="pxyproto: expected true or false"):
        parse_listeners(":1;pxyproto=maybe")

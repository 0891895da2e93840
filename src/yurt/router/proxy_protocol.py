"""The PROXY protocol (v1 text, v2 binary) on incoming connections: `pxyproto=true` on a
`proxy.addr` listener, for a router behind a load balancer (an AWS ELB, HAProxy) that says
who the client is before the client's own bytes.

The header is optional, as with Fabio: a connection that does not start with one is served
as it is. The client address it gives replaces the TCP peer's for everything that names the
client (X-Forwarded-For, X-Real-Ip, Forwarded, allow/deny rules, the access log, an
outgoing `pxyproto=` line). Once the header is read the connection is handed to the
listener's own protocol, so the data path pays nothing for it afterwards.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Callable
from typing import Protocol, cast

log = logging.getLogger(__name__)

V1_PREFIX = b"PROXY "
V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
_V1_MAX = 107  # the longest v1 line, CRLF included (the spec's limit)
_V2_MAX = 16 + 536  # header and the largest address block a receiver must accept

Address = tuple[str, int]


class ProxyHeaderError(ValueError):
    """A connection that starts like a PROXY header but is not a valid one."""


def read_proxy_header(data: bytes) -> tuple[int, Address | None] | None:
    """(bytes the header takes, client address or None) — 0 bytes when there is no header;
    None while more bytes are needed to tell."""
    if data.startswith(V1_PREFIX):
        return _v1(data)
    if data.startswith(V2_SIGNATURE):
        return _v2(data)
    if V1_PREFIX.startswith(data) or V2_SIGNATURE.startswith(data):
        return None  # could still become a header
    return 0, None


def _v1(data: bytes) -> tuple[int, Address | None] | None:
    end = data.find(b"\r\n", 0, _V1_MAX)
    if end < 0:
        if len(data) >= _V1_MAX:
            raise ProxyHeaderError("PROXY v1 line longer than 107 bytes")
        return None
    parts = data[:end].decode("ascii", "replace").split(" ")
    if len(parts) >= 2 and parts[1] == "UNKNOWN":
        return end + 2, None
    if len(parts) != 6 or parts[1] not in ("TCP4", "TCP6"):
        raise ProxyHeaderError(f"bad PROXY v1 line: {data[:end]!r}")
    try:
        src = ipaddress.ip_address(parts[2])
        ipaddress.ip_address(parts[3])
        port = int(parts[4])
        int(parts[5])
    except ValueError:
        raise ProxyHeaderError(f"bad PROXY v1 line: {data[:end]!r}") from None
    if (src.version == 4) != (parts[1] == "TCP4") or not 0 <= port <= 65535:
        raise ProxyHeaderError(f"bad PROXY v1 line: {data[:end]!r}")
    return end + 2, (str(src), port)


def _v2(data: bytes) -> tuple[int, Address | None] | None:
    if len(data) < 16:
        return None
    version, command = data[12] >> 4, data[12] & 0x0F
    if version != 2 or command not in (0, 1):
        raise ProxyHeaderError(f"bad PROXY v2 version/command byte {data[12]:#04x}")
    length = int.from_bytes(data[14:16], "big")
    if 16 + length > _V2_MAX:
        raise ProxyHeaderError(f"PROXY v2 address block of {length} bytes is too long")
    if len(data) < 16 + length:
        return None
    block = data[16 : 16 + length]
    family = data[13] >> 4
    if command == 0:  # LOCAL: the balancer's own connection (a health check)
        return 16 + length, None
    if family == 1 and len(block) >= 12:
        ip4 = ipaddress.IPv4Address(block[0:4])
        return 16 + length, (str(ip4), int.from_bytes(block[8:10], "big"))
    if family == 2 and len(block) >= 36:
        ip6 = ipaddress.IPv6Address(block[0:16])
        return 16 + length, (str(ip6), int.from_bytes(block[32:34], "big"))
    return 16 + length, None  # unix sockets or unspecified: the TCP peer stands


class ClientConnection(Protocol):
    """What a listener's protocol offers to take a client address from a PROXY header."""

    def set_client_address(self, address: Address) -> None: ...


class ProxyProtocolReader(asyncio.Protocol):
    """Reads an optional PROXY header, then hands the connection to `inner()`."""

    def __init__(self, inner: Callable[[], asyncio.Protocol], timeout: float) -> None:
        self.inner = inner
        self.timeout = timeout
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        if self.timeout > 0:
            loop = asyncio.get_running_loop()
            self.timer = loop.call_later(self.timeout, self._no_header_in_time)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        try:
            header = read_proxy_header(self.buffer)
        except ProxyHeaderError as exc:
            peer = self.transport.get_extra_info("peername") if self.transport else None
            log.info("connection from %s: %s", peer, exc)
            self._cancel_timer()
            if self.transport is not None:
                self.transport.close()
            return
        if header is not None:
            size, address = header
            self._hand_over(address, self.buffer[size:])

    def _no_header_in_time(self) -> None:
        # A client that waits for the server to speak first (SMTP, MySQL): no header.
        self.timer = None
        if self.transport is not None and not self.transport.is_closing():
            self._hand_over(None, self.buffer)

    def _hand_over(self, address: Address | None, rest: bytes) -> None:
        self._cancel_timer()
        transport, self.transport = self.transport, None
        if transport is None:
            return
        inner = self.inner()
        transport.set_protocol(inner)
        inner.connection_made(transport)
        if address is not None:
            cast(ClientConnection, inner).set_client_address(address)
        if rest and not transport.is_closing():
            inner.data_received(rest)

    def eof_received(self) -> bool | None:
        self._cancel_timer()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timer()
        self.transport = None

    def _cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


def with_proxy_protocol(
    inner: Callable[[], asyncio.Protocol], timeout: float
) -> Callable[[], asyncio.Protocol]:
    """A listener's protocol factory that first reads an optional PROXY header."""
    return lambda: ProxyProtocolReader(inner, timeout)

"""A listener's memory of one routing table: route lookups by the request's Host and raw
path, each target's bytes (`TargetBytes`), the request headers to read for the configured
request-ID and client-IP names, and request IDs made in batches.

No sockets: the connection asks it on every request, tests and the fuzzer compare it with
`Table.lookup`.
"""

from __future__ import annotations

import os
from typing import Any

from yurt.router.forward_headers import KEY_LIMIT, ListenerLines, TargetBytes
from yurt.router.paths import lookup_path
from yurt.router.request_head import DROP, KEEP, REQUEST_SPECIAL
from yurt.router.table import Matcher, Table, Target


class _Unknown:
    """Markers of the route cache: not looked up yet; not cacheable (redirect targets)."""


UNKNOWN: Any = _Unknown()
UNCACHEABLE: Any = _Unknown()


class RouteCache:
    """Lookups of one table, by the request's Host and raw path, and the bytes that go with
    them. Tables are replaced whole, never changed, so a new table starts a new cache."""

    __slots__ = (
        "cip",
        "entries",
        "lines",
        "local_ip",
        "match",
        "rid",
        "rid_prefix",
        "scheme",
        "special",
        "sts_line",
        "table",
        "targets",
        "tls",
        "tls_line",
        "tls_name",
        "ws_scheme",
    )

    LIMIT = 8192
    KEY_LIMIT = KEY_LIMIT  # longer host+path keys (and Host values) are not cached

    def __init__(
        self, tls: bool = False, tls_header: str = "", tls_value: str = "", sts: str = ""
    ) -> None:
        # What the listener is: the scheme and port the forwarding headers name when the
        # client does not say.
        self.tls = tls
        self.scheme = "https" if tls else "http"
        self.ws_scheme = "wss" if tls else "ws"
        self.table: Table | None = None
        self.match: Matcher | None = None
        self.entries: dict[bytes, Any] = {}
        self.targets: dict[Target, TargetBytes] = {}
        # The request headers to look at, for these request-ID and client-IP header names.
        self.special = REQUEST_SPECIAL
        self.rid = ""
        self.cip = ""
        self.local_ip = ""
        self.rid_prefix = b""
        # Fabio's proxy.header.tls, on a TLS listener: sent instead of the client's own.
        self.tls_name = tls_header if tls else ""
        self.tls_line = f"{tls_header}: {tls_value}\r\n".encode("latin-1") if self.tls_name else b""
        self.lines = ListenerLines(tls=tls, tls_line=self.tls_line)
        if self.tls_name:
            self.replaced_headers("", "")
        self.sts_line = b"\r\nStrict-Transport-Security: " + sts.encode() if tls and sts else b""

    def reset(self, table: Table, match: Matcher | None) -> None:
        self.table = table
        self.match = match
        self.entries = {}
        self.targets = {}

    def resolve(self, key: bytes, host: bytes, raw_path: bytes) -> Any:
        """The route `Table.lookup` would take for this host and path; None for no route;
        UNCACHEABLE when a redirect target may send the lookup on to another host."""
        table = self.table
        match = self.match
        assert table is not None and match is not None
        path = lookup_path(raw_path.decode("latin-1"))
        result: Any = None
        for h in table.matching_hosts(host.decode("latin-1")):
            for r in table.hosts.get(h, ()):
                if match(path, r):
                    break
            else:
                continue
            if not r.ring:
                continue
            result = UNCACHEABLE if any(t.redirect_code for t in r.targets) else r
            break
        if len(key) > self.KEY_LIMIT:
            return result  # looked up each time: the cache holds LIMIT short keys at most
        if len(self.entries) >= self.LIMIT:
            self.entries.clear()
        self.entries[key] = result
        return result

    def target_info(self, target: Target) -> TargetBytes:
        info = self.targets[target] = TargetBytes(target)
        return info

    def host_lines(self, host: bytes) -> tuple[bytes, bytes]:
        """(`X-Forwarded-Port` line, `X-Forwarded-Host` line or b"") for a Host value."""
        return self.lines.host_lines(host)

    def replaced_headers(self, rid: str, cip: str, local_ip: str = "") -> None:
        """The request-ID, client-IP header names or `proxy.localip` changed: what to look
        at, what to send. The connections see a new `lines` object."""
        special = dict(REQUEST_SPECIAL)
        for name in (rid, cip, self.tls_name):
            if name:
                lname = name.lower().encode()
                kind = special.get(lname, 0)
                special[lname] = kind | DROP if kind & KEEP or not kind else kind
        self.special = special
        self.rid = rid
        self.cip = cip
        self.local_ip = local_ip
        self.rid_prefix = rid.encode() + b": "
        self.lines = ListenerLines(
            tls=self.tls, client_ip_header=cip, local_ip=local_ip, tls_line=self.tls_line
        )


class RequestIds:
    """Request IDs in the UUID text form, as Fabio makes them: a random generator prefix
    and a counter (fastuuid's scheme), unique without a system call per request. They are
    made 256 at a time: the data path takes one with `ids.batch.pop()` while there are any,
    else calls `refill()`."""

    __slots__ = ("_n", "_prefix", "batch")

    BATCH = 256

    def __init__(self) -> None:
        self._n = 0
        self._prefix = b""
        self.batch: list[bytes] = []
        self._reseed()

    def _reseed(self) -> None:
        b = bytearray(os.urandom(16))
        b[6] = (b[6] & 0x0F) | 0x40  # version 4
        b[8] = (b[8] & 0x3F) | 0x80  # RFC 4122 variant
        h = b.hex().encode()
        self._prefix = b"%s-%s-%s-%s-" % (h[:8], h[8:12], h[12:16], h[16:20])
        self._n = int(h[20:], 16)

    def refill(self) -> bytes:
        """Makes the next batch and returns its first ID."""
        n = self._n
        if n + self.BATCH >= 1 << 48:
            self._reseed()
            n = self._n
        self._n = n + self.BATCH
        prefix = self._prefix
        # Popped from the end: the last made is the first taken, so reverse the counter.
        self.batch = [prefix + b"%012x" % i for i in range(n + self.BATCH, n, -1)]
        return self.batch.pop()

    def next(self) -> bytes:
        return self.batch.pop() if self.batch else self.refill()

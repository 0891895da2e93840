"""The browser guard: no web page but the API's own may drive it.

Every API listener (catalog, scheduler, client, router admin; never the router's proxy port,
which serves users' apps) refuses with 403, before any handler runs:

- a request whose `Origin` is neither the listener's own origin nor one of the allowed ones
  (a cross-site page: its "simple" requests need no CORS preflight, so this is the only stop);
- a request whose `Host` names something other than the listener (DNS rebinding: a page on
  `attacker.example` whose name resolves to 127.0.0.1 is same-origin with itself, so only the
  `Host` header betrays it). On a loopback listener only loopback names and addresses pass; on
  any other, IP literals the listener is bound or advertised on (every IP on a wildcard bind),
  the machine's own names and the hosts of the allowed origins.
- a cross-site request that is not a top-level navigation (`Sec-Fetch-Site: cross-site`), for
  browsers that omit `Origin` on a no-cors GET.

CLIs and client libraries send no `Origin` and use the address they were given, so they pass.
The decision is pure (`check`), the aiohttp middleware is a thin edge around it.
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from aiohttp import web

from yurt.api.http import Handler

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


def parse_origin(text: str) -> str:
    """An origin as the browser sends it (`scheme://host[:port]`), normalised; ValueError
    says what is wrong with one that is not."""
    parts = urlsplit(text.strip())
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f'"{text}" is not an origin: expected http(s)://host[:port]')
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f'"{text}" is not an origin: it has a path, query or fragment')
    try:
        port = parts.port or _DEFAULT_PORTS[parts.scheme]
    except ValueError:
        raise ValueError(f'"{text}" is not an origin: its port is not a number') from None
    return _origin(parts.scheme, parts.hostname, port)


def _origin(scheme: str, host: str, port: int) -> str:
    host = host.lower().rstrip(".")
    shown = f"[{host}]" if ":" in host else host
    if port == _DEFAULT_PORTS.get(scheme):
        return f"{scheme}://{shown}"
    return f"{scheme}://{shown}:{port}"


def _split_host(value: str) -> tuple[str, int | None] | None:
    """`Host` -> (name or address, port); None when it is not a host at all."""
    text = value.strip().lower()
    if not text:
        return None
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            return None
        port_text = rest[1:]
    else:
        host, _, port_text = text.partition(":")
    if port_text and not port_text.isdigit():
        return None
    return host.rstrip("."), int(port_text) if port_text else None


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


# Asked for every request's Host (the same few values): parsing an address each time was a
# twentieth of what answering a thousand woken watchers cost. Bounded: Host is the client's.
@functools.lru_cache(maxsize=1024)
def is_loopback(host: str) -> bool:
    if host.lower().rstrip(".") in _LOOPBACK_NAMES:
        return True
    address = _ip(host.strip("[]"))
    return address is not None and address.is_loopback


def _machine_names() -> set[str]:
    names = {socket.gethostname().lower()}
    with contextlib.suppress(OSError):
        names.add(socket.getfqdn().lower())
    return {n for n in names if n}


@dataclass
class BrowserGuard:
    """What one listener accepts: the host it is bound to, the names and addresses it is
    advertised on, and the origins allowed besides its own."""

    bind_host: str
    tls: bool = False
    advertise: Iterable[str] = ()
    allowed_origins: Iterable[str] = ()
    _origins: frozenset[str] = field(init=False, repr=False)
    _names: frozenset[str] = field(init=False, repr=False)
    _loopback_only: bool = field(init=False, repr=False)
    _any_ip: bool = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._origins = frozenset(parse_origin(o) for o in self.allowed_origins)
        host = self.bind_host.strip("[]")
        self._loopback_only = is_loopback(host)
        self._any_ip = host in ("", "0.0.0.0", "::")
        names = {host.lower(), *(a.strip("[]").lower() for a in self.advertise)}
        names |= {urlsplit(o).hostname or "" for o in self._origins}
        if not self._loopback_only:
            names |= _machine_names()
        self._names = frozenset(n for n in names if n)

    def host_allowed(self, host: str) -> bool:
        if is_loopback(host) or host in self._names:
            return True
        if self._loopback_only:
            return False
        return self._any_ip and _ip(host) is not None

    def check(self, headers: dict[str, str] | web.Request) -> str | None:
        """Why a request must be refused, or None to let it through."""
        get = headers.headers.get if isinstance(headers, web.Request) else headers.get
        host_header = get("Host", "")
        split = _split_host(host_header) if host_header else None
        if host_header and split is None:
            return f'Host "{host_header}" is not a host name'
        if split is not None and not self.host_allowed(split[0]):
            return (
                f'Host "{host_header}" does not name this listener (a DNS rebinding page?); '
                "add its origin to http_allowed_origins to accept it"
            )
        origin = get("Origin")
        if origin is not None:
            if not self._origin_allowed(origin, split):
                return (
                    f'Origin "{origin}" is not this listener\'s origin; cross-site requests '
                    "are refused (allow an origin with http_allowed_origins)"
                )
            return None
        site = get("Sec-Fetch-Site", "").lower()
        if site == "cross-site" and get("Sec-Fetch-Mode", "").lower() != "navigate":
            return "a cross-site request (Sec-Fetch-Site: cross-site) is refused"
        return None

    def _origin_allowed(self, origin: str, host: tuple[str, int | None] | None) -> bool:
        try:
            normalised = parse_origin(origin)
        except ValueError:
            return False  # "null" (sandboxed frames, file:// pages) and garbage
        if normalised in self._origins:
            return True
        if host is None:
            return False
        scheme = "https" if self.tls else "http"
        own = _origin(scheme, host[0], host[1] or _DEFAULT_PORTS[scheme])
        return normalised == own

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        reason = self.check(request)
        if reason is not None:
            return web.Response(status=403, text=f"Forbidden: {reason}")
        return await handler(request)

"""Listener addresses: `proxy.addr` entries (`host:port;proto=...;cs=...`) and `ui.addr`,
parsed into `Listener`s and written back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from yurt.router.config_values import ConfigError, duration_seconds, parse_bool, split_unquoted


@dataclass(slots=True)
class Listener:
    """One `proxy.addr` entry: `host:port[;proto=http|https|tcp|tcp+sni][;cs=NAME]...`."""

    host: str
    port: int
    proto: str = "http"
    cs: str = ""  # the certificate source of a proto=https (or TLS-terminating tcp) listener
    tls_min: str = ""
    tls_max: str = ""
    tls_ciphers: str = ""  # Go's cipher suite names or numbers, comma-separated
    proxy_protocol: bool = False  # pxyproto=true: connections may start with a PROXY header
    proxy_timeout: str = ""  # pxytimeout: how long to wait for it (Fabio's default 250ms)
    refresh: str = ""  # tcp-dynamic: how often to retry addresses it could not listen on
    read_timeout: str = ""  # rt=: this listener's proxy.readtimeout
    write_timeout: str = ""  # wt=: this listener's proxy.writetimeout

    @property
    def proxy_header_timeout(self) -> float | None:
        """Seconds to wait for a PROXY header, or None when the listener reads none."""
        if not self.proxy_protocol:
            return None
        return duration_seconds("proxy.addr: pxytimeout", self.proxy_timeout or "250ms")

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


_LISTENER_OPTIONS = (
    "proto",
    "cs",
    "tlsmin",
    "tlsmax",
    "tlsciphers",
    "rt",
    "wt",
    "pxyproto",
    "pxytimeout",
    "refresh",
)


# The other options, kept as given in the Listener's fields (durations once they parse).
_TEXT_FIELDS = {"cs": "cs", "tlsmin": "tls_min", "tlsmax": "tls_max", "tlsciphers": "tls_ciphers"}
_DURATION_FIELDS = {
    "refresh": "refresh",
    "pxytimeout": "proxy_timeout",
    "rt": "read_timeout",
    "wt": "write_timeout",
}

_PROTOS = ("http", "https", "tcp", "tcp+sni", "https+tcp+sni", "tcp-dynamic", "prometheus")


def _parse_listener(key: str, item: str, allowed: Sequence[str]) -> Listener:
    """One listener: `host:port;opt=value;...` with the options `allowed` for `key`."""
    addr, *opts = split_unquoted(item, ";")
    li = Listener("", 0)
    for opt in opts:
        k, _, v = opt.strip().partition("=")
        v = v.strip('"')
        if k not in allowed:
            raise ConfigError(
                f"{key}: unknown option {k!r} in {item!r} (expected one of {', '.join(allowed)})"
            )
        if k == "proto":
            if v not in _PROTOS:
                raise ConfigError(
                    f"{key}: proto={v!r} in {item!r} is not supported (yurt serves "
                    f"proto={', '.join(_PROTOS)} listeners)"
                )
            li.proto = v
        elif k == "pxyproto":
            li.proxy_protocol = parse_bool(f"{key}: {item!r}: pxyproto", v)
        else:
            if k in _DURATION_FIELDS:
                duration_seconds(f"{key}: {item!r}: {k}", v)
            setattr(li, _TEXT_FIELDS.get(k) or _DURATION_FIELDS[k], v)
    if li.proto in ("https", "https+tcp+sni") and not li.cs:
        raise ConfigError(f"{key}: {item!r}: a proto={li.proto} listener needs cs=NAME")
    # (ui.addr has no proto: cs= alone serves it over TLS.)
    if li.cs and key == "proxy.addr" and li.proto not in ("https", "tcp", "https+tcp+sni"):
        raise ConfigError(
            f"{key}: {item!r}: cs= is supported on proto=https and proto=tcp "
            "listeners only (a tcp+sni listener passes TLS through undecrypted)"
        )
    if li.proxy_protocol and li.cs:
        raise ConfigError(
            f"{key}: {item!r}: pxyproto=true is supported on listeners without TLS "
            "(put the PROXY header reader in front of the TLS terminator)"
        )
    li.host, li.port = split_addr(key, addr)
    return li


def parse_listeners(text: str) -> list[Listener]:
    out: list[Listener] = []
    for item in split_unquoted(text, ","):
        item = item.strip()
        if item:
            out.append(_parse_listener("proxy.addr", item, _LISTENER_OPTIONS))
    if not out:
        raise ConfigError("proxy.addr: no listen address")
    return out


def format_listeners(listeners: Sequence[Listener]) -> str:
    """The inverse of `parse_listeners`."""
    out = []
    for li in listeners:
        text = li.address + ("" if li.proto == "http" else f";proto={li.proto}")
        for key, value in (
            ("cs", li.cs),
            ("tlsmin", li.tls_min),
            ("tlsmax", li.tls_max),
            ("tlsciphers", f'"{li.tls_ciphers}"' if "," in li.tls_ciphers else li.tls_ciphers),
            ("pxyproto", "true" if li.proxy_protocol else ""),
            ("pxytimeout", li.proxy_timeout),
            ("refresh", li.refresh),
            ("rt", li.read_timeout),
            ("wt", li.write_timeout),
        ):
            if value:
                text += f";{key}={value}"
        out.append(text)
    return ",".join(out)


def parse_ui_listener(text: str) -> Listener:
    """`ui.addr`: `host:port[;cs=NAME][;tlsmin=V][;tlsmax=V][;tlsciphers=...]` (with `cs`,
    served over TLS)."""
    return _parse_listener("ui.addr", text, ("cs", "tlsmin", "tlsmax", "tlsciphers"))


def split_addr(key: str, addr: str) -> tuple[str, int]:
    text = addr.strip()
    for scheme in ("http://", "https://"):
        if text.startswith(scheme):
            text = text[len(scheme) :].rstrip("/")
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise ConfigError(f"{key}: expected host:port, got {addr!r}")
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port)

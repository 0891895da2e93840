"""Fabio's access log: `common`, `combined` or a pattern of `$fields`, one line a request.

The pattern is compiled once into a format string and one small function per field, so a
request costs only the fields its pattern names; the local-time stamps, which change once a
second, are formatted once a second. Lines go to a buffered stream that is flushed within
`FLUSH_AFTER` seconds of a line: no system call per request, and yet a log that a pipe or a
file sees promptly (Python block-buffers stdout when it is not a terminal).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sys
import time
from collections.abc import Callable
from typing import TextIO

COMMON = '$remote_host - - [$time_common] "$request" $response_status $response_body_size'
COMBINED = COMMON + ' "$header.Referer" "$header.User-Agent"'
FORMATS = {"common": COMMON, "combined": COMBINED}

_FIELD = re.compile(r"\$([a-z0-9_]+(?:\.[A-Za-z0-9-]+)?)")


class AccessLogError(ValueError):
    pass


# What one log line is made of, as `AccessLog.log` receives it.
_Entry = tuple[
    float,  # start (time.time())
    float,  # end
    str,  # remote ip
    bytes,  # method
    bytes,  # url as sent
    str,  # HTTP version, "1.1"
    list[tuple[bytes, bytes]],  # request headers
    int,  # status
    int,  # response body size
    str,  # upstream host:port
    str,  # upstream service
]
_Getter = Callable[[_Entry], str]


def _request(e: _Entry) -> str:
    return f"{e[3].decode('latin-1')} {e[4].decode('latin-1')} HTTP/{e[5]}"


_GETTERS: dict[str, _Getter] = {
    "remote_addr": lambda e: e[2],
    "remote_host": lambda e: e[2],
    "remote_port": lambda e: "",
    "request": _request,
    "request_method": lambda e: e[3].decode("latin-1"),
    "request_uri": lambda e: e[4].decode("latin-1"),
    "request_proto": lambda e: "HTTP/" + e[5],
    "response_status": lambda e: str(e[7]),
    "response_body_size": lambda e: str(e[8]),
    "response_time_ms": lambda e: f"{(e[1] - e[0]) * 1e3:.3f}",
    "response_time_us": lambda e: str(int((e[1] - e[0]) * 1e6)),
    "response_time_ns": lambda e: str(int((e[1] - e[0]) * 1e9)),
    "time_unix_ms": lambda e: str(int(e[0] * 1000)),
    "upstream_addr": lambda e: e[9],
    "upstream_service": lambda e: e[10],
}
# Filled in per instance: they keep a once-a-second cache, or look up a header.
_STAMPS = {"time_common": "%d/%b/%Y:%H:%M:%S %z", "time_rfc3339": "%Y-%m-%dT%H:%M:%S%z"}
KNOWN = {*_GETTERS, *_STAMPS, "request_host"}


def _header_getter(name: str) -> _Getter:
    want = name.lower().encode()

    def get(e: _Entry) -> str:
        for k, v in e[6]:
            if k.lower() == want:
                return v.decode("latin-1")
        return ""

    return get


class _Stamp:
    """Local time in one strftime format, formatted at most once a second."""

    __slots__ = ("fmt", "second", "text")

    def __init__(self, fmt: str) -> None:
        self.fmt = fmt
        self.second = -1
        self.text = ""

    def __call__(self, e: _Entry) -> str:
        second = int(e[0])
        if second != self.second:
            self.text = time.strftime(self.fmt, time.localtime(second))
            self.second = second
        return self.text


class AccessLog:
    FLUSH_AFTER = 0.5

    def __init__(self, fmt: str, out: TextIO | None = None) -> None:
        self.pattern = FORMATS.get(fmt, fmt)
        getters: list[_Getter] = []
        template: list[str] = []
        pos = 0
        for m in _FIELD.finditer(self.pattern):
            name = m[1]
            if name in _GETTERS:
                getters.append(_GETTERS[name])
            elif name in _STAMPS:
                getters.append(_Stamp(_STAMPS[name]))
            elif name == "request_host":
                getters.append(_header_getter("Host"))
            elif name.startswith("header."):
                getters.append(_header_getter(name[len("header.") :]))
            else:
                raise AccessLogError(f"log.access.format: unknown field ${name}")
            template.append(self.pattern[pos : m.start()].replace("%", "%%"))
            template.append("%s")
            pos = m.end()
        template.append(self.pattern[pos:].replace("%", "%%") + "\n")
        self._template = "".join(template)
        self._getters = tuple(getters)
        self.out = out or sys.stdout
        self._write: Callable[[str], object] = self.out.write
        self._flush_pending = False

    def log(
        self,
        start: float,
        end: float,
        remote_ip: str,
        method: bytes,
        url: bytes,
        version: str,
        headers: list[tuple[bytes, bytes]],
        status: int,
        size: int,
        upstream: str,
        service: str,
    ) -> None:
        """One line; the data path calls this positionally (keywords cost a dict a call)."""
        e: _Entry = (
            start,
            end,
            remote_ip,
            method,
            url,
            version,
            headers,
            status,
            size,
            upstream,
            service,
        )
        self._write(self._template % tuple([g(e) for g in self._getters]))
        if not self._flush_pending:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self.out.flush()
                return
            self._flush_pending = True
            loop.call_later(self.FLUSH_AFTER, self.flush)

    def flush(self) -> None:
        self._flush_pending = False
        # A closed or broken stream must not stop the proxy.
        with contextlib.suppress(OSError, ValueError):
            self.out.flush()

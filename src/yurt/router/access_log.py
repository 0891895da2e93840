"""Fabio's access log: `common`, `combined` or a pattern of `$fields`, one line a request."""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable
from typing import TextIO

COMMON = '$remote_host - - [$time_common] "$request" $response_status $response_body_size'
COMBINED = COMMON + ' "$header.Referer" "$header.User-Agent"'
FORMATS = {"common": COMMON, "combined": COMBINED}

_FIELD = re.compile(r"\$([a-z_]+(?:\.[A-Za-z0-9-]+)?)")
KNOWN = {
    "remote_addr",
    "remote_host",
    "remote_port",
    "request",
    "request_method",
    "request_uri",
    "request_proto",
    "request_host",
    "response_status",
    "response_body_size",
    "response_time_ms",
    "response_time_us",
    "response_time_ns",
    "time_common",
    "time_rfc3339",
    "time_unix_ms",
    "upstream_addr",
    "upstream_service",
}


class AccessLogError(ValueError):
    pass


def _time_common(t: float) -> str:
    return time.strftime("%d/%b/%Y:%H:%M:%S %z", time.localtime(t))


class AccessLog:
    def __init__(self, fmt: str, out: TextIO | None = None) -> None:
        self.pattern = FORMATS.get(fmt, fmt)
        for m in _FIELD.finditer(self.pattern):
            name = m[1]
            if name not in KNOWN and not name.startswith("header."):
                raise AccessLogError(f"log.access.format: unknown field ${name}")
        self.out = out or sys.stdout
        self._write: Callable[[str], object] = self.out.write

    def log(
        self,
        *,
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
        def header(name: str) -> str:
            want = name.lower().encode()
            for k, v in headers:
                if k.lower() == want:
                    return v.decode("latin-1")
            return ""

        m_ = method.decode("latin-1")
        uri = url.decode("latin-1")
        proto = f"HTTP/{version}"
        values = {
            "remote_addr": remote_ip,
            "remote_host": remote_ip,
            "remote_port": "",
            "request": f"{m_} {uri} {proto}",
            "request_method": m_,
            "request_uri": uri,
            "request_proto": proto,
            "request_host": header("Host"),
            "response_status": str(status),
            "response_body_size": str(size),
            "response_time_ms": f"{(end - start) * 1e3:.3f}",
            "response_time_us": str(int((end - start) * 1e6)),
            "response_time_ns": str(int((end - start) * 1e9)),
            "time_common": _time_common(start),
            "time_rfc3339": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(start)),
            "time_unix_ms": str(int(start * 1000)),
            "upstream_addr": upstream,
            "upstream_service": service,
        }

        def sub(m: re.Match[str]) -> str:
            name = m[1]
            if name.startswith("header."):
                return header(name[len("header.") :])
            return values.get(name, "")

        self._write(_FIELD.sub(sub, self.pattern) + "\n")

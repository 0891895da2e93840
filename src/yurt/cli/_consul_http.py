"""A small synchronous client of Consul's HTTP API for the Consul-style commands.

The address comes from `-http-addr`, else `CONSUL_HTTP_ADDR`, else 127.0.0.1:8500, as the
consul CLI does; `CONSUL_HTTP_TOKEN` is sent when set.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import click

DEFAULT_ADDR = "127.0.0.1:8500"


def http_addr_option(func: Any) -> Any:
    return click.option(
        "-http-addr",
        "--http-addr",
        "http_addr",
        default=None,
        help="Address of the catalog's HTTP API (default: $CONSUL_HTTP_ADDR or 127.0.0.1:8500).",
    )(func)


def base_url(http_addr: str | None) -> str:
    addr = http_addr or os.environ.get("CONSUL_HTTP_ADDR") or DEFAULT_ADDR
    if "://" not in addr:
        addr = "http://" + addr
    return addr.rstrip("/")


class ConsulHTTPError(click.ClickException):
    pass


def request(
    http_addr: str | None,
    method: str,
    path: str,
    *,
    query: dict[str, str] | None = None,
    body: bytes | None = None,
    allow_404: bool = False,
) -> tuple[int, bytes]:
    url = base_url(http_addr) + path
    if query:
        url += "?" + urllib.parse.urlencode(query)
    req = urllib.request.Request(url, data=body, method=method)
    token = os.environ.get("CONSUL_HTTP_TOKEN")
    if token:
        req.add_header("X-Consul-Token", token)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        if exc.code == 404 and allow_404:
            return 404, b""
        text = exc.read().decode(errors="replace").strip()
        raise ConsulHTTPError(f"Unexpected response code: {exc.code} ({text})") from None
    except OSError as exc:
        raise ConsulHTTPError(f"Error connecting to {base_url(http_addr)}: {exc}") from None


def get_json(
    http_addr: str | None,
    path: str,
    query: dict[str, str] | None = None,
    *,
    allow_404: bool = False,
) -> Any:
    """The JSON answer of a GET; None for a 404 when `allow_404`."""
    status, data = request(http_addr, "GET", path, query=query, allow_404=allow_404)
    if status == 404:
        return None
    return json.loads(data)

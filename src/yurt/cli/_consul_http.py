"""The Consul-style commands' way to the catalog: the consul CLI's flags and environment,
turned into calls of the one Consul client (`yurt.consul_api.sync`).

The address comes from `-http-addr`, else `CONSUL_HTTP_ADDR`, else 127.0.0.1:8500, as the
consul CLI does; the token from `-token`, `-token-file`, else `CONSUL_HTTP_TOKEN`,
`CONSUL_HTTP_TOKEN_FILE`, sent as `X-Consul-Token`. HTTPS with `CONSUL_HTTP_SSL=true` or an
https:// address, trusting `CONSUL_CACERT`/`CONSUL_CAPATH`, presenting
`CONSUL_CLIENT_CERT`/`CONSUL_CLIENT_KEY`, checking `CONSUL_TLS_SERVER_NAME` if set, and not
verifying at all with `CONSUL_HTTP_SSL_VERIFY=false`.
"""

from __future__ import annotations

import json
import os
import ssl
from typing import Any

import click

from yurt.api.tls import TLSConfig, TLSConfigError
from yurt.consul_api import sync
from yurt.consul_api.errors import ConsulAPIError, ConsulUnreachable

DEFAULT_ADDR = "127.0.0.1:8500"


_TOKEN_KEY = "yurt.consul.token"


class ConsulHTTPError(click.ClickException):
    pass


def _keep_token(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if not value:
        return
    if param.name == "token_file":
        try:
            with open(value) as f:
                value = f.read().strip()
        except OSError as exc:
            raise click.BadParameter(str(exc)) from None
    ctx.meta[_TOKEN_KEY] = value


def http_addr_option(func: Any) -> Any:
    """`-http-addr`, and the `-token`/`-token-file` options that every consul-style command
    takes (kept in the click context for `request`)."""
    func = click.option(
        "-token-file",
        "--token-file",
        "token_file",
        default=None,
        expose_value=False,
        callback=_keep_token,
        help="File holding the ACL token (default: $CONSUL_HTTP_TOKEN_FILE).",
    )(func)
    func = click.option(
        "-token",
        "--token",
        "token",
        default=None,
        expose_value=False,
        callback=_keep_token,
        help="ACL token to send (default: $CONSUL_HTTP_TOKEN).",
    )(func)
    return click.option(
        "-http-addr",
        "--http-addr",
        "http_addr",
        default=None,
        help="Address of the catalog's HTTP API (default: $CONSUL_HTTP_ADDR or 127.0.0.1:8500).",
    )(func)


def token() -> str:
    """The ACL token of this command: `-token`, `-token-file`, or the environment."""
    ctx = click.get_current_context(silent=True)
    if ctx is not None and ctx.meta.get(_TOKEN_KEY):
        return str(ctx.meta[_TOKEN_KEY])
    value = os.environ.get("CONSUL_HTTP_TOKEN", "")
    path = os.environ.get("CONSUL_HTTP_TOKEN_FILE", "")
    if not value and path:
        try:
            with open(path) as f:
                value = f.read().strip()
        except OSError as exc:
            raise ConsulHTTPError(f"Error reading CONSUL_HTTP_TOKEN_FILE {path}: {exc}") from None
    return value


def base_url(http_addr: str | None) -> str:
    addr = http_addr or os.environ.get("CONSUL_HTTP_ADDR") or DEFAULT_ADDR
    if "://" not in addr:
        addr = ("https://" if _env_bool("CONSUL_HTTP_SSL", False) else "http://") + addr
    return addr.rstrip("/")


def _env_bool(name: str, default: bool) -> bool:
    text = os.environ.get(name, "").strip().lower()
    if not text:
        return default
    return text in ("1", "t", "true", "yes", "on")


def consul_tls() -> TLSConfig:
    """The consul CLI's TLS settings from its environment variables."""
    env = os.environ
    return TLSConfig(
        http=True,
        ca_file=env.get("CONSUL_CACERT", ""),
        ca_path=env.get("CONSUL_CAPATH", ""),
        cert_file=env.get("CONSUL_CLIENT_CERT", ""),
        key_file=env.get("CONSUL_CLIENT_KEY", ""),
        verify_outgoing=_env_bool("CONSUL_HTTP_SSL_VERIFY", True),
        server_name=env.get("CONSUL_TLS_SERVER_NAME", ""),
    )


def ssl_context(url: str) -> ssl.SSLContext | None:
    if not url.startswith("https://"):
        return None
    try:
        return consul_tls().client_context()
    except TLSConfigError as exc:
        raise ConsulHTTPError(f"Error creating the TLS config: {exc}") from None


def request(
    http_addr: str | None,
    method: str,
    path: str,
    *,
    query: dict[str, str] | None = None,
    body: bytes | None = None,
    allow_404: bool = False,
) -> tuple[int, bytes]:
    base = base_url(http_addr)
    try:
        answer = sync.call(
            base,
            method,
            path,
            token=token(),
            ssl_context=ssl_context(base),
            params=query,
            body=body,
            allow_404=allow_404,
        )
    except ConsulAPIError as exc:
        raise ConsulHTTPError(f"Unexpected response code: {exc.status} ({exc.body})") from None
    except ConsulUnreachable as exc:
        raise ConsulHTTPError(f"Error connecting to {base}: {exc.cause}") from None
    if answer.status == 404:
        return 404, b""
    return answer.status, answer.raw


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

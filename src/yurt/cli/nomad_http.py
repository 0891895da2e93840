"""A small synchronous client of Nomad's HTTP API for the `yurt` commands.

It honours `NOMAD_ADDR` and `NOMAD_TOKEN` like the nomad CLI, and its TLS settings
(`NOMAD_CACERT`, `NOMAD_CAPATH`, `NOMAD_CLIENT_CERT`, `NOMAD_CLIENT_KEY`, `NOMAD_SKIP_VERIFY`,
`NOMAD_TLS_SERVER_NAME`, or the `-ca-cert`... flags, which win), and turns failures into the
messages the nomad CLI prints ("Unexpected response code: 404 (job not found)").
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from yurt.api.tls import TLSConfig, TLSConfigError

DEFAULT_NOMAD_ADDR = "http://127.0.0.1:4646"


class NomadError(Exception):
    """A failed call; `status` is 0 when the server could not be reached."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


def resolve_address(flag_value: str | None, env_var: str, default: str) -> str:
    address = flag_value or os.environ.get(env_var) or default
    if "://" not in address:
        address = "http://" + address
    return address.rstrip("/")


def _query_value(value: str | int | bool) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


# Where `yurt.cli.common`'s -ca-cert... flags leave their values (click's context meta).
TLS_FLAGS_META = "yurt.nomad_tls_flags"


def _truthy(text: str | None) -> bool:
    return (text or "").strip().lower() in ("1", "t", "true", "yes", "on")


def nomad_tls(address: str) -> TLSConfig:
    """The nomad CLI's TLS settings for `address`: flags first, then NOMAD_* variables."""
    flags: dict[str, Any] = {}
    try:
        import click

        ctx = click.get_current_context(silent=True)
        if ctx is not None:
            flags = dict(ctx.meta.get(TLS_FLAGS_META) or {})
    except ImportError:  # pragma: no cover - click is a dependency
        pass

    def get(flag: str, var: str) -> str:
        return str(flags.get(flag) or os.environ.get(var) or "")

    return TLSConfig(
        http=address.startswith("https://"),
        ca_file=get("ca_cert", "NOMAD_CACERT"),
        ca_path=get("ca_path", "NOMAD_CAPATH"),
        cert_file=get("client_cert", "NOMAD_CLIENT_CERT"),
        key_file=get("client_key", "NOMAD_CLIENT_KEY"),
        verify_outgoing=not (
            flags.get("tls_skip_verify") or _truthy(os.environ.get("NOMAD_SKIP_VERIFY"))
        ),
        server_name=get("tls_server_name", "NOMAD_TLS_SERVER_NAME"),
    )


def nomad_ssl_context(address: str) -> ssl.SSLContext | None:
    """None for plain HTTP; NomadError naming the bad setting otherwise."""
    if not address.startswith("https://"):
        return None
    try:
        return nomad_tls(address).client_context()
    except TLSConfigError as exc:
        raise NomadError(f"Error creating the TLS config: {exc}") from None


@dataclass
class NomadHTTP:
    address: str = DEFAULT_NOMAD_ADDR
    token: str | None = None
    timeout: float = 330.0
    ssl_context: ssl.SSLContext | None = None

    @classmethod
    def from_env(cls, address: str | None = None) -> NomadHTTP:
        resolved = resolve_address(address, "NOMAD_ADDR", DEFAULT_NOMAD_ADDR)
        return cls(
            address=resolved,
            token=os.environ.get("NOMAD_TOKEN") or None,
            ssl_context=nomad_ssl_context(resolved),
        )

    def url(self, path: str, params: Mapping[str, str | int | bool] | None = None) -> str:
        url = self.address + path
        if params:
            query = {k: _query_value(v) for k, v in params.items()}
            url += "?" + urllib.parse.urlencode(query)
        return url

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int | bool] | None = None,
        body: Any = None,
    ) -> tuple[Any, dict[str, str]]:
        """JSON answer and headers; NomadError on a non-2xx answer or no connection."""
        raw, headers = self.request_raw(method, path, params=params, body=body)
        if not raw.strip():
            return None, headers
        try:
            return json.loads(raw), headers
        except json.JSONDecodeError as exc:
            raise NomadError(f"invalid JSON from {path}: {exc}") from None

    def request_raw(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int | bool] | None = None,
        body: Any = None,
    ) -> tuple[bytes, dict[str, str]]:
        data = None if body is None else json.dumps(body).encode()
        with self._opened(method, path, params, data) as resp:
            return resp.read(), dict(resp.headers.items())

    @contextlib.contextmanager
    def _opened(
        self,
        method: str,
        path: str,
        params: Mapping[str, str | int | bool] | None,
        data: bytes | None = None,
    ) -> Iterator[http.client.HTTPResponse]:
        """The answer to one request sent with the token; NomadError, in the nomad CLI's
        words, for a non-2xx answer or a failed connection (also while the body is read)."""
        req = urllib.request.Request(self.url(path, params), data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if self.token:
            req.add_header("X-Nomad-Token", self.token)
        try:
            with urllib.request.urlopen(
                req, timeout=self.timeout, context=self.ssl_context
            ) as resp:
                yield resp
        except urllib.error.HTTPError as exc:
            text = exc.read().decode(errors="replace").strip()
            raise NomadError(
                f"Unexpected response code: {exc.code} ({text})", status=exc.code
            ) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            verb = method.capitalize()
            raise NomadError(f'{verb} "{self.url(path, params)}": {reason}') from None

    def get(self, path: str, **params: str | int | bool) -> Any:
        return self.request("GET", path, params=params or None)[0]

    def get_with_index(self, path: str, **params: str | int | bool) -> tuple[Any, int]:
        data, headers = self.request("GET", path, params=params or None)
        index = int(headers.get("X-Nomad-Index", "0") or 0)
        return data, index

    def put(self, path: str, body: Any = None, **params: str | int | bool) -> Any:
        return self.request("PUT", path, params=params or None, body=body)[0]

    def post(self, path: str, body: Any = None, **params: str | int | bool) -> Any:
        return self.request("POST", path, params=params or None, body=body)[0]

    def delete(self, path: str, **params: str | int | bool) -> Any:
        return self.request("DELETE", path, params=params or None)[0]

    def stream(self, path: str, **params: str | int | bool) -> Iterator[bytes]:
        with self._opened("GET", path, params or None) as resp:
            while True:
                chunk = resp.read1(65536)
                if not chunk:
                    return
                yield chunk

    def lookup_prefix(self, kind: str, prefix: str) -> list[dict[str, Any]]:
        """`kind` is "allocations", "evaluations", "nodes", "deployments" or "jobs"."""
        result = self.get(f"/v1/{kind}", prefix=prefix)
        return list(result or [])

"""A small synchronous client of Nomad's HTTP API for the `yurt` commands.

It honours `NOMAD_ADDR` and `NOMAD_TOKEN` like the nomad CLI, and turns failures into the
messages the nomad CLI prints ("Unexpected response code: 404 (job not found)").
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

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


@dataclass
class NomadHTTP:
    address: str = DEFAULT_NOMAD_ADDR
    token: str | None = None
    timeout: float = 330.0

    @classmethod
    def from_env(cls, address: str | None = None) -> NomadHTTP:
        return cls(
            address=resolve_address(address, "NOMAD_ADDR", DEFAULT_NOMAD_ADDR),
            token=os.environ.get("NOMAD_TOKEN") or None,
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
        req = urllib.request.Request(self.url(path, params), data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if self.token:
            req.add_header("X-Nomad-Token", self.token)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return resp.read(), dict(resp.headers.items())
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
        req = urllib.request.Request(self.url(path, params or None))
        if self.token:
            req.add_header("X-Nomad-Token", self.token)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                while True:
                    chunk = resp.read1(65536)
                    if not chunk:
                        return
                    yield chunk
        except urllib.error.HTTPError as exc:
            text = exc.read().decode(errors="replace").strip()
            raise NomadError(
                f"Unexpected response code: {exc.code} ({text})", status=exc.code
            ) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise NomadError(f'Get "{self.url(path, params or None)}": {reason}') from None

    def lookup_prefix(self, kind: str, prefix: str) -> list[dict[str, Any]]:
        """`kind` is "allocations", "evaluations", "nodes", "deployments" or "jobs"."""
        result = self.get(f"/v1/{kind}", prefix=prefix)
        return list(result or [])

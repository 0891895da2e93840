"""A small client for the parts of Consul's HTTP API the router uses.

Only public endpoints: blocking queries (`?index=&wait=`) on health, catalog and KV, the agent's
service registration and TTL check updates. It works against yurt's catalog or a real Consul.
"""

from __future__ import annotations

import base64
import json
import logging
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp

log = logging.getLogger(__name__)


class ConsulError(Exception):
    """Consul answered with an error status (or not at all)."""


@dataclass(slots=True)
class Answer:
    data: Any
    index: int
    status: int


class ConsulClient:
    def __init__(
        self,
        base_url: str,
        token: str = "",
        *,
        wait: str = "5m",
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.wait = wait
        self.tls = tls  # for an https Consul: its CA, a client certificate
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> ConsulClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            headers = {"X-Consul-Token": self.token} if self.token else {}
            # Blocking queries wait up to `wait` plus Consul's jitter (wait/16).
            timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=None)
            self._session = aiohttp.ClientSession(
                headers=headers,
                timeout=timeout,
                connector=aiohttp.TCPConnector(
                    limit=64, force_close=False, ssl=self.tls if self.tls is not None else True
                ),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def get(
        self, path: str, params: dict[str, str] | None = None, *, index: int = 0
    ) -> Answer:
        """GET `path`; with `index` > 0 a blocking query that waits for a change."""
        q = dict(params or {})
        if index > 0:
            q["index"] = str(index)
            q["wait"] = self.wait
        try:
            async with self.session.get(self.base_url + path, params=q) as resp:
                body = await resp.read()
                idx = int(resp.headers.get("X-Consul-Index", "0") or 0)
                if resp.status == 404:
                    return Answer(None, idx, 404)
                if resp.status >= 400:
                    raise ConsulError(
                        f"GET {path}: {resp.status} {body.decode(errors='replace')[:200]}"
                    )
                data = json.loads(body) if body.strip() else None
                return Answer(data, idx, resp.status)
        except (aiohttp.ClientError, OSError, json.JSONDecodeError) as exc:
            raise ConsulError(f"GET {path}: {exc}") from exc

    async def put(self, path: str, body: Any = None, params: dict[str, str] | None = None) -> Any:
        data = body if isinstance(body, bytes | str) or body is None else json.dumps(body)
        try:
            async with self.session.put(self.base_url + path, data=data, params=params) as resp:
                text = await resp.read()
                if resp.status >= 400:
                    raise ConsulError(
                        f"PUT {path}: {resp.status} {text.decode(errors='replace')[:200]}"
                    )
                return json.loads(text) if text.strip() else None
        except (aiohttp.ClientError, OSError, json.JSONDecodeError) as exc:
            raise ConsulError(f"PUT {path}: {exc}") from exc

    # KV ----------------------------------------------------------------------

    async def kv_get(self, key: str, *, index: int = 0) -> tuple[bytes | None, int, int]:
        """(value, modify index, X-Consul-Index) of one key; value None when absent."""
        ans = await self.get("/v1/kv/" + quote(key), index=index)
        if ans.status == 404 or not ans.data:
            return None, 0, ans.index
        entry = ans.data[0]
        raw = entry.get("Value")
        value = base64.b64decode(raw) if raw else b""
        return value, int(entry.get("ModifyIndex", 0)), ans.index

    async def kv_list(self, prefix: str, *, index: int = 0) -> tuple[list[dict[str, Any]], int]:
        ans = await self.get("/v1/kv/" + quote(prefix), {"recurse": ""}, index=index)
        if ans.status == 404 or not ans.data:
            return [], ans.index
        return list(ans.data), ans.index

    async def kv_keys(self, prefix: str) -> list[str]:
        ans = await self.get("/v1/kv/" + quote(prefix), {"keys": ""})
        return list(ans.data or [])

    async def kv_cas(self, key: str, value: str, cas: int) -> bool:
        ok = await self.put("/v1/kv/" + quote(key), value.encode(), {"cas": str(cas)})
        return bool(ok)


def kv_value(entry: dict[str, Any]) -> str:
    raw = entry.get("Value")
    return base64.b64decode(raw).decode("utf-8", errors="replace") if raw else ""

"""The catalog, through Consul's HTTP agent API only (so a real Consul works as well)."""

from __future__ import annotations

import logging
from typing import Any

import aiohttp

from yurt.api.tls import TLSConfig

log = logging.getLogger(__name__)
Obj = dict[str, Any]


class CatalogError(Exception):
    pass


class ConsulClient:
    def __init__(self, addr: str, *, tls: TLSConfig | None = None, token: str = "") -> None:
        # `tls`: Nomad's consul { ssl, ca_file, cert_file, key_file, verify_ssl };
        # `token`: Nomad's consul { token }, sent on every call as X-Consul-Token.
        self._headers = {"X-Consul-Token": token} if token else None
        tls = tls or TLSConfig()
        self.base = tls.url(addr)
        self._ssl = tls.client_context() if self.base.startswith("https") else None
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=10),
                headers=self._headers,
                connector=aiohttp.TCPConnector(ssl=self._ssl if self._ssl is not None else True),
            )
        return self._session

    async def _call(self, method: str, path: str, body: Any = None, **params: str) -> Any:
        try:
            async with self._http().request(
                method, f"{self.base}{path}", json=body, params=params or None
            ) as resp:
                text = await resp.text()
                if resp.status >= 300:
                    raise CatalogError(f"{method} {path}: {resp.status} {text.strip()}")
                if resp.content_type == "application/json" and text:
                    return await resp.json(content_type=None)
                return text
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise CatalogError(
                f"{method} {path}: catalog at {self.base} unreachable: {exc}"
            ) from None

    async def register(self, service: Obj) -> None:
        await self._call("PUT", "/v1/agent/service/register", service)

    async def deregister(self, service_id: str) -> None:
        await self._call("PUT", f"/v1/agent/service/deregister/{service_id}")

    async def update_ttl(self, check_id: str, status: str, output: str) -> None:
        await self._call(
            "PUT", f"/v1/agent/check/update/{check_id}", {"Status": status, "Output": output}
        )

    async def agent_checks(self) -> dict[str, Obj]:
        result = await self._call("GET", "/v1/agent/checks")
        return dict(result or {})

    async def kv_get(self, key: str) -> str | None:
        try:
            result = await self._call("GET", f"/v1/kv/{key.lstrip('/')}", raw="")
        except CatalogError as exc:
            if " 404 " in str(exc):
                return None
            raise
        return str(result)

    async def health_service(self, name: str, *, passing: bool = True, tag: str = "") -> list[Obj]:
        params = {"passing": "1"} if passing else {}
        if tag:
            params["tag"] = tag
        return list(await self._call("GET", f"/v1/health/service/{name}", **params) or [])

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

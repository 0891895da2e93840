"""The async client of Consul's HTTP API used by the router, the client agent and the scheduler.

Where the catalog is, how to trust it (an `ssl.SSLContext` built by the caller's own TLS
settings), the ACL token (`X-Consul-Token` on every call), the timeouts and the pooled
connections are set here once. Blocking reads follow Consul's rules for `?index=&wait=`:
the answer's `X-Consul-Index` is returned with the body, and `watch.next_index` applies the
reset rules. An error status is a `ConsulAPIError` with Consul's status and body text; no
answer at all is a `ConsulError`.

Several catalog servers (a cluster, docs/cluster.md) are given as a comma list of URLs; a
call that finds its server unreachable moves to the next one and tries there (each server
at most once per call), and later calls stay on the one that answered. A read is retried
whatever broke; a write only when its connection was never made, since a write whose
connection broke later may have been applied and must not be applied twice. Blocking
indexes carry over: the servers of a cluster share one index (their store's).
"""

from __future__ import annotations

import base64
import json
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp

from yurt.api.durations import parse_go_duration
from yurt.api.tls import TLSConfig
from yurt.consul_api.errors import ConsulAPIError, ConsulError, ConsulUnreachable

Obj = dict[str, Any]
__all__ = [
    "Answer",
    "ConsulAPIError",
    "ConsulClient",
    "ConsulError",
    "ConsulUnreachable",
    "decode",
    "kv_value",
]


@dataclass(slots=True)
class Answer:
    """One answer: its status, its body, and `X-Consul-Index` (0 when absent)."""

    status: int
    raw: bytes
    index: int

    @property
    def data(self) -> Any:
        """The body as JSON (None when empty)."""
        return json.loads(self.raw) if self.raw.strip() else None


def _header_index(value: str | None) -> int:
    try:
        return max(int(value or 0), 0)
    except ValueError:
        return 0


def split_bases(base_url: str) -> list[str]:
    """The server URLs of `base_url`: one URL, or several separated by commas; those
    without a scheme take the first's (`https://a:8501,b:8501`)."""
    bases = [b.strip().rstrip("/") for b in base_url.split(",") if b.strip()]
    if not bases:
        raise ValueError("no catalog address given")
    scheme = bases[0].split("://", 1)[0] if "://" in bases[0] else "http"
    return [b if "://" in b else f"{scheme}://{b}" for b in bases]


class ConsulClient:
    """A pooled connection to one Consul HTTP API (or to the first answering of several,
    `base_url` a comma list). Close it (or use `async with`)."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str = "",
        ssl_context: ssl.SSLContext | None = None,
        wait: str = "5m",
        timeout: float = 10.0,
        max_connections: int = 64,
    ) -> None:
        self.bases = split_bases(base_url)
        self._current = 0  # the server calls go to; moves on when it is unreachable
        self.token = token
        self.ssl_context = ssl_context  # for an https Consul: its CA, a client certificate
        self.wait = wait  # the `wait` of blocking reads
        self.timeout = timeout  # a whole call that does not block
        self.max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_tls(cls, address: str, tls: TLSConfig | None = None, token: str = "") -> ConsulClient:
        """A client for Nomad's `consul { address, ssl, ca_file, ..., token }`: `address` is
        host:port (or a URL), the scheme comes from `tls`."""
        tls = tls or TLSConfig()
        base = tls.url(address)
        context = tls.client_context() if base.startswith("https://") else None
        return cls(base, token=token, ssl_context=context)

    @property
    def base_url(self) -> str:
        """The URL of the server calls go to now."""
        return self.bases[self._current]

    async def __aenter__(self) -> ConsulClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            headers = {"X-Consul-Token": self.token} if self.token else {}
            self._session = aiohttp.ClientSession(
                headers=headers,
                # Per call: `timeout` for a plain call, the wait plus Consul's jitter for a
                # blocking one (see `_call_timeout`).
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
                connector=aiohttp.TCPConnector(
                    limit=self.max_connections,
                    ssl=self.ssl_context if self.ssl_context is not None else True,
                ),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _call_timeout(self, wait: str | None) -> aiohttp.ClientTimeout:
        if wait is None:
            return aiohttp.ClientTimeout(total=self.timeout, sock_connect=10)
        try:
            seconds = parse_go_duration(wait) / 1e9
        except ValueError:
            seconds = 300.0
        # Consul holds a blocking read up to `wait` plus wait/16 of jitter.
        return aiohttp.ClientTimeout(total=seconds * 17 / 16 + self.timeout, sock_connect=10)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: Any = None,
        index: int = 0,
        wait: str | None = None,
        allow_404: bool = False,
    ) -> Answer:
        """One call. `index` > 0 makes a GET a blocking read (`wait`: this client's unless
        given); a JSON-able `body` is sent as JSON, bytes or str as they are."""
        query = dict(params or {})
        blocking = None
        if index > 0:
            blocking = wait or self.wait
            query["index"] = str(index)
            query["wait"] = blocking
        if body is None or isinstance(body, bytes):
            data: bytes | None = body
        elif isinstance(body, str):
            data = body.encode()
        else:
            data = json.dumps(body).encode()
        answer = await self._send(method, path, query, data, self._call_timeout(blocking))
        if answer.status == 404 and allow_404:
            return answer
        if answer.status >= 400:
            text = answer.raw.decode(errors="replace").strip()[:500]
            raise ConsulAPIError(method, path, answer.status, text)
        return answer

    async def _send(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        data: bytes | None,
        timeout: aiohttp.ClientTimeout,
    ) -> Answer:
        """Send to the current server, moving on to the next while they are unreachable."""
        failures: list[str] = []
        for _ in range(len(self.bases)):
            base = self.base_url
            try:
                async with self.session.request(
                    method, base + path, params=query or None, data=data, timeout=timeout
                ) as resp:
                    raw = await resp.read()
                    index = _header_index(resp.headers.get("X-Consul-Index"))
                    return Answer(resp.status, raw, index)
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                failures.append(f"{base}: {str(exc) or type(exc).__name__}")
                never_sent = isinstance(exc, aiohttp.ClientConnectorError)
                if len(self.bases) == 1 or not (method in ("GET", "HEAD") or never_sent):
                    break
                self._current = (self._current + 1) % len(self.bases)
        where = ",".join(self.bases)
        raise ConsulUnreachable(method, path, where, "; ".join(failures))

    async def get(
        self,
        path: str,
        params: dict[str, str] | None = None,
        *,
        index: int = 0,
        wait: str | None = None,
    ) -> tuple[Any, int]:
        """(JSON body, X-Consul-Index) of a GET; body None for a 404. With `index` > 0, a
        blocking read that returns once the index passes it (or after the wait)."""
        answer = await self.request(
            "GET", path, params=params, index=index, wait=wait, allow_404=True
        )
        if answer.status == 404:
            return None, answer.index
        return decode(answer, "GET", path), answer.index

    async def put(self, path: str, body: Any = None, params: dict[str, str] | None = None) -> Any:
        """PUT; the JSON answer (None when empty)."""
        return decode(await self.request("PUT", path, params=params, body=body), "PUT", path)

    # the agent ------------------------------------------------------------------------

    async def register(self, service: Obj) -> None:
        await self.put("/v1/agent/service/register", service)

    async def deregister(self, service_id: str) -> None:
        await self.put("/v1/agent/service/deregister/" + service_id)

    async def agent_service(self, service_id: str) -> Obj | None:
        """The agent's registration of `service_id`; None when the agent does not have it."""
        data, _ = await self.get("/v1/agent/service/" + service_id)
        return dict(data) if isinstance(data, dict) else None

    async def check_pass(self, check_id: str) -> None:
        await self.put("/v1/agent/check/pass/" + check_id)

    async def update_ttl(self, check_id: str, status: str, output: str) -> None:
        await self.put(
            "/v1/agent/check/update/" + check_id,
            {"Status": status, "Output": output},
        )

    async def agent_checks(self) -> dict[str, Obj]:
        data, _ = await self.get("/v1/agent/checks")
        return dict(data or {})

    # health ---------------------------------------------------------------------------

    async def health_service(self, name: str, *, passing: bool = True, tag: str = "") -> list[Obj]:
        params = {"passing": "1"} if passing else {}
        if tag:
            params["tag"] = tag
        data, _ = await self.get("/v1/health/service/" + name, params)
        return list(data or [])

    # KV -------------------------------------------------------------------------------

    async def kv_get(self, key: str, *, index: int = 0) -> tuple[bytes | None, int, int]:
        """(value, modify index, X-Consul-Index) of one key; value None when absent."""
        data, new_index = await self.get("/v1/kv/" + quote(key), index=index)
        if not data:
            return None, 0, new_index
        entry = data[0]
        raw = entry.get("Value")
        value = base64.b64decode(raw) if raw else b""
        return value, int(entry.get("ModifyIndex", 0)), new_index

    async def kv_list(self, prefix: str, *, index: int = 0) -> tuple[list[Obj], int]:
        """The entries under `prefix` (values base64, as Consul sends them) and the index."""
        data, new_index = await self.get("/v1/kv/" + quote(prefix), {"recurse": ""}, index=index)
        return list(data or []), new_index

    async def kv_keys(self, prefix: str) -> list[str]:
        data, _ = await self.get("/v1/kv/" + quote(prefix), {"keys": ""})
        return list(data or [])

    async def kv_cas(self, key: str, value: str, cas: int) -> bool:
        """Write `key` only if its modify index is still `cas` (0: only if absent)."""
        return bool(await self.put("/v1/kv/" + quote(key), value.encode(), {"cas": str(cas)}))


def decode(
    answer: Answer, method: str, path: str, loads: Callable[[bytes], Any] | None = None
) -> Any:
    """The JSON body of an answer (by `loads` when given); ConsulError when it is not JSON."""
    try:
        if loads is not None:
            return loads(answer.raw) if answer.raw.strip() else None
        return answer.data
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConsulError(method, path, f"answer is not JSON: {exc}") from None


def kv_value(entry: Obj) -> str:
    """The text of a KV entry of a list (`recurse`) answer."""
    raw = entry.get("Value")
    return base64.b64decode(raw).decode("utf-8", errors="replace") if raw else ""

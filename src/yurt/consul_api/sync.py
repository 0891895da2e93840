"""The client's face for synchronous callers (the click commands): one call on a fresh loop.

The CLI makes a handful of calls per command, so each runs the async client on its own event
loop with its own connection; address, TLS and token come from the caller (the consul CLI's
flags and environment, read in `yurt.cli._consul_http`).
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

from yurt.consul_api.client import Answer, ConsulClient


def call(
    base_url: str,
    method: str,
    path: str,
    *,
    token: str = "",
    ssl_context: ssl.SSLContext | None = None,
    params: dict[str, str] | None = None,
    body: Any = None,
    allow_404: bool = False,
    timeout: float = 30.0,
) -> Answer:
    """One call; raises `ConsulAPIError` for an error status (a 404 too unless
    `allow_404`) and `ConsulError` when the catalog does not answer."""

    async def once() -> Answer:
        async with ConsulClient(
            base_url, token=token, ssl_context=ssl_context, timeout=timeout
        ) as client:
            return await client.request(method, path, params=params, body=body, allow_404=allow_404)

    return asyncio.run(once())

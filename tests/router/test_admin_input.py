"""`PUT /api/manual` with bodies that are not what it takes: a 400 that says what is wrong,
never a 500 (against a real catalog process, through the router's own UI listener)."""

from __future__ import annotations

import aiohttp
import pytest

from tests.router.conftest import Catalog
from yurt.router.config import RouterConfig
from yurt.router.server import Router


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b'{"value": "route add a / http://127.0.0.1:1/\xff"}', 400, "not UTF-8"),
        (b"\xc3\x28", 400, "invalid byte at offset 0"),
        (b"[" * 100_000 + b"]" * 100_000, 400, "nested too deeply"),
        (b'{"value": ', 400, "invalid JSON at line 1"),
        (b'{"value": 5}', 400, "expected {"),
        (b'{"value": "route bogus"}', 400, "route bogus"),
    ],
)
async def test_bad_manual_bodies_get_400(
    consul: Catalog, body: bytes, status: int, message: str
) -> None:
    router = Router(
        RouterConfig(
            proxy_addr="127.0.0.1:0", ui_addr="127.0.0.1:0", consul_addr=consul.addr, register=False
        )
    )
    await router.start()
    try:
        url = f"http://{router.config.ui_address}/api/manual/hostile"
        async with aiohttp.ClientSession() as session, session.put(url, data=body) as r:
            text = await r.text()
            assert (r.status, message in text) == (status, True), text
        # Nothing was stored.
        async with aiohttp.ClientSession() as session, session.get(url) as r:
            assert (await r.json())["value"] == ""
    finally:
        await router.stop()

"""The `consul` certificate source: certificates in the catalog's KV store, served by an
HTTPS listener and followed as they change, without a restart."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.router.conftest import Catalog
from tests.router.test_router_live import second_router, until
from tests.router.test_tls_listener import make_cert, peer_cn
from yurt.router.config import ConfigError
from yurt.router.consul_certs import parse_kv_url

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_parse_kv_url() -> None:
    assert parse_kv_url("http://127.0.0.1:8500/v1/kv/fabio/certs?token=abc") == (
        "http://127.0.0.1:8500",
        "fabio/certs",
        "abc",
    )
    # As Fabio's documentation writes it.
    assert parse_kv_url("https://c:8501/v1/kv/p/to/cert&token=123") == (
        "https://c:8501",
        "p/to/cert",
        "123",
    )
    for bad in ("c:8500/v1/kv/x", "http://c:8500/v1/catalog/x"):
        with pytest.raises(ConfigError):
            parse_kv_url(bad)


async def test_certificates_from_kv_follow_changes(consul: Catalog, tmp_path: Path) -> None:
    kv = consul.client.kv
    cert_a, key_a = make_cert(tmp_path, "a", "a.kv.test")
    cert_b, key_b = make_cert(tmp_path, "b", "b.kv.test")
    kv.put("certs/site/a.kv.test-cert.pem", cert_a.read_bytes())
    kv.put("certs/site/a.kv.test-key.pem", key_a.read_bytes())
    router = second_router(
        consul.addr,
        proxy_addr="127.0.0.1:0;proto=https;cs=kv",
        cert_sources=f"cs=kv;type=consul;cert=http://{consul.addr}/v1/kv/certs/site",
        register=False,
    )
    await router.start()
    try:
        port = router.config.listeners[0].port
        assert await asyncio.to_thread(peer_cn, port, "a.kv.test") == "a.kv.test"
        assert await asyncio.to_thread(peer_cn, port, "b.kv.test") == "a.kv.test"  # default

        # A new certificate (certificate and key in one value) is served without a restart.
        kv.put("certs/site/b.kv.test.pem", cert_b.read_bytes() + key_b.read_bytes())

        async def serves(name: str, cn: str) -> bool:
            return await asyncio.to_thread(peer_cn, port, name) == cn

        await until(lambda: serves("b.kv.test", "b.kv.test"))
        # One removed: its name falls back to the default, now b (first alphabetically).
        kv.delete("certs/site/a.kv.test", recurse=True)
        await until(lambda: serves("a.kv.test", "b.kv.test"))
        [store] = router._remote_certs
        directory = store.dir
        assert directory.exists()
    finally:
        await router.stop()
        kv.delete("certs/", recurse=True)
    assert not directory.exists()  # the private copies go with the router


async def test_empty_prefix_stops_the_start(consul: Catalog) -> None:
    router = second_router(
        consul.addr,
        proxy_addr="127.0.0.1:0;proto=https;cs=kv",
        cert_sources=f"cs=kv;type=consul;cert=http://{consul.addr}/v1/kv/certs/none",
        register=False,
    )
    with pytest.raises(ConfigError, match="no certificates"):
        await router.start()

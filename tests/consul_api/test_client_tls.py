"""The one Consul client over HTTPS: the context built from the caller's TLS settings is the
one its calls use (a throwaway CA made with openssl; the catalog in this process)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.tls_ca import make_ca
from yurt.api.tls import TLSConfig
from yurt.catalog import CatalogConfig, CatalogServer
from yurt.consul_api.client import ConsulClient, ConsulUnreachable


@pytest.fixture
async def https_catalog(tmp_path: Path) -> AsyncIterator[tuple[CatalogServer, Path]]:
    ca = make_ca(tmp_path / "ca")
    pair = ca.issue("server")
    cfg = CatalogConfig(
        http_port=-1,
        https_port=0,
        data_dir=tmp_path / "catalog",
        node_name="node1",
        tls=TLSConfig(http=True, cert_file=str(pair.cert), key_file=str(pair.key)),
    )
    server = CatalogServer(cfg)
    await server.start()
    try:
        yield server, ca.cert
    finally:
        await server.stop()


async def test_https_with_the_callers_ca(https_catalog: tuple[CatalogServer, Path]) -> None:
    server, ca_cert = https_catalog
    address = f"127.0.0.1:{server.config.https_port}"
    trusted = TLSConfig(http=True, ca_file=str(ca_cert))
    async with ConsulClient.from_tls(address, trusted) as consul:
        assert consul.base_url.startswith("https://")
        await consul.register({"ID": "web-1", "Name": "web"})
        assert await consul.agent_service("web-1") is not None
    # Trusting only the system's CAs, the throwaway one is refused.
    async with ConsulClient.from_tls(address, TLSConfig(http=True)) as untrusting:
        with pytest.raises(ConsulUnreachable, match="CERTIFICATE_VERIFY_FAILED"):
            await untrusting.agent_checks()

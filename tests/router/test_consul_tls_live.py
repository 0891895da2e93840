"""A router that reaches its catalog over TLS with a client certificate
(`registry.consul.tls.*`): the catalog sits behind a second router's TLS-terminating TCP
listener that asks for client certificates, as a TLS-enabled Consul agent would."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from tests.router.conftest import Catalog
from tests.router.test_router_live import second_router, start_upstream, until_answers
from tests.router.test_tls_listener import make_cert
from tests.support.process import free_port
from yurt.router.config import ConfigError, RouterConfig

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_router_watches_a_catalog_over_mutual_tls(consul: Catalog, tmp_path: Path) -> None:
    server_cert, server_key = make_cert(tmp_path, "server", "localhost")
    client_cert, client_key = make_cert(tmp_path, "client", "yurt-router")
    front_port = free_port()
    catalog_port = int(consul.addr.rsplit(":", 1)[1])
    front = second_router(
        consul.addr,
        proxy_addr=f"127.0.0.1:{front_port};proto=tcp;cs=front",
        cert_sources=(
            f"cs=front;type=file;cert={server_cert};key={server_key};clientca={client_cert}"
        ),
        registry_backend="static",
        static_routes=f"route add catalog :{front_port} tcp://127.0.0.1:{catalog_port}",
        register=False,
    )
    up = await start_upstream("over-tls")
    consul.register("tls-cat", "tls-cat", up.port, ["urlprefix-/over-tls"])
    await front.start()
    router = second_router(
        f"https://localhost:{front_port}",
        consul_cafile=str(server_cert),
        consul_certfile=str(client_cert),
        consul_keyfile=str(client_key),
        register=False,
    )
    await router.start()
    try:
        await router.wait_ready()
        proxy = f"http://127.0.0.1:{router.config.listeners[0].port}"
        async with aiohttp.ClientSession() as session:
            await until_answers(session, proxy + "/over-tls/x")

        # Without the client certificate the catalog's side refuses the connection.
        anonymous = second_router(
            f"https://localhost:{front_port}", consul_cafile=str(server_cert), register=False
        )
        await anonymous.start()
        try:
            with pytest.raises(TimeoutError):
                await anonymous.wait_ready(timeout=2)
        finally:
            await anonymous.stop()
    finally:
        await router.stop()
        await front.stop()
        consul.deregister("tls-cat")
        await up.runner.cleanup()


async def test_tls_files_that_cannot_be_read_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"registry\.consul\.tls\.cafile"):
        RouterConfig(consul_addr="https://localhost:8501", consul_cafile=str(tmp_path / "no"))
    with pytest.raises(ConfigError, match=r"registry\.consul\.tls\.certfile"):
        RouterConfig(consul_addr="https://localhost:8501", consul_certfile=str(tmp_path / "no"))
    # Plain http: the TLS settings are not used.
    assert RouterConfig(consul_addr="localhost:8500").consul_tls() is None

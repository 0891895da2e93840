"""The client of several catalog servers (a comma list): a call that finds its server
unreachable moves on to the next and later calls stay there; a write moves on only when its
connection was never made; with none answering the error names them all."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.consul_api.conftest import start_catalog, url_of
from tests.support.process import free_port
from yurt.consul_api.client import ConsulClient, ConsulUnreachable, split_bases
from yurt.router.config import RouterConfig


@pytest.mark.parametrize(
    ("given", "bases"),
    [
        ("http://a:8500", ["http://a:8500"]),
        ("http://a:8500/, http://b:8500", ["http://a:8500", "http://b:8500"]),
        ("http://a:8500,,", ["http://a:8500"]),
        ("https://a:8501,b:8501", ["https://a:8501", "https://b:8501"]),
    ],
)
def test_split_bases(given: str, bases: list[str]) -> None:
    assert split_bases(given) == bases


def test_split_bases_refuses_nothing() -> None:
    with pytest.raises(ValueError, match="no catalog address"):
        split_bases(" , ")


@pytest.mark.parametrize(
    ("addr", "scheme", "url"),
    [
        ("127.0.0.1:8500", "http", "http://127.0.0.1:8500"),
        ("a:8500,b:8500", "https", "https://a:8500,https://b:8500"),
        ("http://a:8500/, b:8500", "http", "http://a:8500,http://b:8500"),
    ],
)
def test_router_takes_a_comma_list_of_catalogs(addr: str, scheme: str, url: str) -> None:
    assert RouterConfig(consul_addr=addr, consul_scheme=scheme).consul_url == url


async def test_calls_move_on_from_a_dead_server_and_stay(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    first = await start_catalog(tmp_path / "one")
    second = await start_catalog(tmp_path / "two")
    try:
        async with ConsulClient(f"{dead},{url_of(first)},{url_of(second)}") as consul:
            assert await consul.kv_cas("written", "once", 0)  # refused connection: moved on
            assert consul.base_url == url_of(first)
            value, _, _ = await consul.kv_get("written")
            assert value == b"once"
            await first.stop()
            # the server it was on is gone: the read goes to the next one
            value, _, index = await consul.kv_get("written")
            assert value is None and index > 0
            assert consul.base_url == url_of(second)
    finally:
        await second.stop()


async def test_none_answering_names_them_all() -> None:
    ports = [free_port(), free_port()]
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    async with ConsulClient(",".join(urls)) as consul:
        with pytest.raises(ConsulUnreachable) as failed:
            await consul.agent_checks()
    assert all(u in str(failed.value) for u in urls)

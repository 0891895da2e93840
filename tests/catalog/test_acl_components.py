"""The scheduler's and the client's catalog clients send their `consul { token }` (as Nomad
does) on every call, to a catalog with ACLs on."""

from __future__ import annotations

import asyncio

import consul
import pytest

from tests.catalog.conftest import CatalogProcess
from yurt.consul_api.client import ConsulAPIError, ConsulClient
from yurt.scheduler.consul import ConsulRegistration


@pytest.fixture(scope="module")
def nomad_token(root: consul.Consul) -> str:
    token = root.acl.token.create(templated_policies=[{"builtin/nomad-client": {}}])
    return str(token["SecretID"])


async def test_client_sends_its_token(acl_catalog: CatalogProcess, nomad_token: str) -> None:
    addr = f"127.0.0.1:{acl_catalog.port}"
    anonymous = ConsulClient.from_tls(addr)
    with pytest.raises(ConsulAPIError, match="lacks permission 'service:write'"):
        await anonymous.register({"Name": "task", "ID": "task-1"})
    await anonymous.close()
    client = ConsulClient.from_tls(addr, token=nomad_token)
    try:
        await client.register({"Name": "task", "ID": "task-1", "Check": {"TTL": "30s"}})
        await client.update_ttl("service:task-1", "passing", "ok")
        checks = await client.agent_checks()
        assert checks["service:task-1"]["Status"] == "passing"
        assert (await client.kv_get("nothing/here"))[0] is None  # a KV read carries it too
        assert [e["Service"]["ID"] for e in await client.health_service("task")] == ["task-1"]
        await client.deregister("task-1")
    finally:
        await client.close()


async def test_scheduler_registration_sends_its_token(
    acl_catalog: CatalogProcess, nomad_token: str, root: consul.Consul
) -> None:
    reg = ConsulRegistration(
        f"127.0.0.1:{acl_catalog.port}", "nomad", "127.0.0.1", 4646, token=nomad_token
    )
    reg.start()
    try:
        await asyncio.wait_for(reg.registered.wait(), 10)
        assert any(s["Service"] == "nomad" for s in root.agent.services().values())
    finally:
        await reg.stop()
    assert not any(s["Service"] == "nomad" for s in root.agent.services().values())

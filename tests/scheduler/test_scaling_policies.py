"""Scaling policies read from the jobs' `scaling` blocks, through python-nomad on an
in-process scheduler: stubs and full policies in Nomad's shapes, IDs stable across reads and
job updates, `?job=` and `?type=`, a stopped job's policies disabled, Nomad's 404 text."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import cast

import nomad
import pytest
from nomad.api import exceptions as nomad_exc

from tests.scheduler import jobs as J
from yurt.scheduler import SchedulerConfig, SchedulerServer
from yurt.scheduler.api_scaling import job_policies
from yurt.scheduler.structs import Job, ScalingPolicy

SCALING = {"Enabled": True, "Min": 1, "Max": 3, "Type": "horizontal", "Policy": {"cooldown": "1m"}}


@pytest.fixture
async def srv(tmp_path: Path) -> AsyncIterator[SchedulerServer]:
    server = SchedulerServer(SchedulerConfig(http_port=0, data_dir=tmp_path))
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def _job(job_id: str, **extra: object) -> dict[str, object]:
    group = {**J.group("g"), "Scaling": SCALING}
    return J.job(job_id, groups=[group, J.group("plain")], **extra)


async def test_policies_from_scaling_blocks(srv: SchedulerServer) -> None:
    client = nomad.Nomad(host="127.0.0.1", port=srv.config.http_port, timeout=10)
    srv.ops.register_job(_job("web"))
    srv.ops.register_job(_job("api"))

    def read() -> tuple[list[dict[str, object]], list[dict[str, object]]]:
        return client.scaling.get_scaling_policies(), client.scaling.get_scaling_policies(job="web")

    every, web = await asyncio.to_thread(read)
    assert len(every) == 2
    (stub,) = web
    assert set(stub) == {"ID", "Type", "Target", "Enabled", "CreateIndex", "ModifyIndex"}
    assert stub["Target"] == {"Namespace": "default", "Job": "web", "Group": "g"}
    assert stub["Type"] == "horizontal" and stub["Enabled"] is True
    full = await asyncio.to_thread(client.scaling.get_scaling_policy, stub["ID"])
    assert {k: full[k] for k in ("Min", "Max", "Policy")} == {
        "Min": 1,
        "Max": 3,
        "Policy": {"cooldown": "1m"},
    }
    # a new version of the job keeps the policy's ID; stopping it disables the policy
    srv.ops.register_job(_job("web", Priority=70))
    srv.ops.deregister_job("default", "web", purge=False)
    again = await asyncio.to_thread(client.scaling.get_scaling_policy, stub["ID"])
    assert again["ID"] == stub["ID"] and again["Enabled"] is False
    assert await asyncio.to_thread(client.scaling.get_scaling_policies, "", "vertical_cpu") == []
    assert len(await asyncio.to_thread(client.scaling.get_scaling_policies, "", "horizontal")) == 2
    with pytest.raises(nomad_exc.URLNotFoundNomadException) as err:
        await asyncio.to_thread(client.scaling.get_scaling_policy, "nope")
    assert err.value.nomad_resp.text == "policy not found"


def test_a_policy_has_the_fields_of_its_struct() -> None:
    [policy] = job_policies(cast(Job, {**_job("web"), "Namespace": "default"}))
    assert set(policy) == ScalingPolicy.__required_keys__
    assert policy["Target"] == {"Namespace": "default", "Job": "web", "Group": "g"}

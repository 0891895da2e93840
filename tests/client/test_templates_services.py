"""`nomadService` and `nomadServices` in templates: Nomad's native services read from an
in-process scheduler with ACLs on, by the task's workload identity (a mixed-auth read,
as Nomad allows it), watched by blocking queries so that a registration re-renders; the
spec grammar of consul-template's `nomad.service` query, by table."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import requests

from tests.client.test_templates_vars import ALLOC, ENV, Watcher, catalog, rendered, srv
from tests.scheduler.test_native_services import reg
from yurt.client import template_nomad as tn
from yurt.client import templates as t
from yurt.client.gotemplate import TemplateError, parse, render
from yurt.scheduler import SchedulerServer

__all__ = ["catalog", "srv"]  # the fixtures, shared with the variables' tests

Obj = dict[str, Any]


def registration(sid: str, name: str, port: int, tags: list[str]) -> Obj:
    return reg(sid, name, tags=tags, AllocID=ALLOC, Address="10.0.0.5", Port=port)


TEMPLATE = (
    '{{ range nomadService "db" }}{{ .Name }} {{ .Address }}:{{ .Port }} {{ .Tags }} '
    "{{ .Datacenter }} {{ .JobID }};{{ end }}\n"
    '{{ range nomadService "primary.db" }}{{ .Port }};{{ end }}\n'
    "{{ range nomadServices }}{{ .Name }}={{ .Tags }};{{ end }}"
)


async def test_a_task_reads_native_services_and_follows_registrations(
    srv: SchedulerServer, catalog: t.AllocCatalog
) -> None:
    srv.ops.sync_services("n1", [registration("_nomad-task-1", "db", 5432, ["replica"])], [])
    watcher = Watcher()
    text = await rendered(catalog, TEMPLATE, watcher)
    assert text == "db 10.0.0.5:5432 [replica] dc1 web;\n\ndb=[replica];"
    watcher.dirty.clear()
    srv.ops.sync_services(
        "n1", [registration("_nomad-task-2", "db", 5433, ["primary", "a-first"])], []
    )
    await asyncio.wait_for(watcher.dirty.wait(), 10)
    text = await rendered(catalog, TEMPLATE, watcher)
    assert text == (
        "db 10.0.0.5:5432 [replica] dc1 web;db 10.0.0.5:5433 [a-first primary] dc1 web;\n"
        "5433;\n"
        "db=[a-first primary replica];"
    )


async def test_another_namespace_is_not_the_tasks_to_read(srv: SchedulerServer) -> None:
    # the task's workload identity, as the client fetches it with the node's secret
    token = await _identity(srv)
    headers = {"X-Nomad-Token": token}
    url = srv.address
    own = await asyncio.to_thread(requests.get, f"{url}/v1/service/db", headers=headers, timeout=10)
    assert own.status_code == 200
    other = await asyncio.to_thread(
        requests.get, f"{url}/v1/service/db?namespace=prod", headers=headers, timeout=10
    )
    assert (other.status_code, other.text) == (403, "Permission denied")
    forged = await asyncio.to_thread(
        requests.get, f"{url}/v1/services", headers={"X-Nomad-Token": token + "x"}, timeout=10
    )
    assert forged.status_code == 403
    # a workload identity reads services, not everything
    jobs = await asyncio.to_thread(requests.get, f"{url}/v1/jobs", headers=headers, timeout=10)
    assert jobs.status_code == 403


async def _identity(srv: SchedulerServer) -> str:
    r = await asyncio.to_thread(
        requests.get,
        f"{srv.address}/v1/internal/node/n1/identity",
        params={"alloc": ALLOC, "task": "web"},
        headers={"X-Yurt-Node-Secret": "node-secret"},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    return str(r.json()["Token"])


@pytest.mark.parametrize(
    ("spec", "want"),
    [
        ("db", ("db", "default")),
        ("primary.db", ("primary.db", "default")),
        ("v1.2.db", ("v1.2.db", "default")),
        ("db?ns=prod", ("db", "prod")),
        ("primary.db?ns=prod@global", ("primary.db", "prod")),
        ("my-db@global", ("my-db", "default")),
    ],
)
def test_service_specs(spec: str, want: tuple[str, str]) -> None:
    assert tn.service_spec(spec, "default", "global") == want


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        ("", 'nomad.service: invalid format: ""'),
        ("db?namespace=x", 'nomad.service: invalid format: "db?namespace=x"'),
        ("db@europe", "yurt has one region, 'global'"),
    ],
)
def test_bad_service_specs(spec: str, error: str) -> None:
    with pytest.raises(TemplateError) as caught:
        tn.service_spec(spec, "default", "global")
    assert error in str(caught.value)


def test_the_count_and_key_form_is_refused_with_a_reason() -> None:
    funcs = tn.service_funcs(lambda *_: (True, ()), ENV)
    with pytest.raises(TemplateError, match="no count/key choice"):
        render(parse('{{ nomadService 2 "key" "db" }}'), funcs)

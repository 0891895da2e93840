"""`nomadVar`, `nomadVarList`, `nomadVarListSafe` and `nomadVarExists` in templates, read
from an in-process scheduler with ACLs on, by the task's workload identity (fetched with
the node's secret), and watched by blocking queries: a change re-renders, a write that
changes nothing a template sees does not."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from yurt.client import template_nomad as tn
from yurt.client import templates as t
from yurt.client.gotemplate import MissingData, parse, render
from yurt.client.server_conn import ServerConnection
from yurt.scheduler import SchedulerConfig, SchedulerServer
from yurt.scheduler import store as s

ALLOC = "11111111-2222-3333-4444-555555555555"
ENV = {"NOMAD_NAMESPACE": "default", "NOMAD_TASK_NAME": "web", "NOMAD_ALLOC_ID": ALLOC}


class Watcher:
    """Stands in for a task's template: told when a view it reads changes."""

    def __init__(self) -> None:
        self.dirty = asyncio.Event()

    def mark_dirty(self, _i: int) -> None:
        self.dirty.set()


@pytest.fixture
async def srv(tmp_path: Path) -> AsyncIterator[SchedulerServer]:
    server = SchedulerServer(SchedulerConfig(http_port=0, data_dir=tmp_path, acl_enabled=True))
    await server.start()
    server.ops.keyring_at(tmp_path)
    with server.store.write() as txn:
        txn.put(s.NODE, "n1", {"ID": "n1", "SecretID": "node-secret", "Status": "ready"})
        txn.put(
            s.ALLOC,
            ALLOC,
            {
                "ID": ALLOC,
                "Namespace": "default",
                "JobID": "web",
                "TaskGroup": "web",
                "NodeID": "n1",
                "EvalID": "e1",
                "DesiredStatus": "run",
                "ClientStatus": "running",
            },
        )
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def catalog(srv: SchedulerServer) -> AsyncIterator[t.AllocCatalog]:
    cat = t.AllocCatalog(None)
    cat.nomad = tn.source_for(ServerConnection([srv.address], "n1", "node-secret"), ALLOC)
    try:
        yield cat
    finally:
        await cat.close()


async def rendered(catalog: t.AllocCatalog, source: str, watcher: Watcher) -> str:
    """Render until every dependency has data (as the template runner waits for it)."""
    for _ in range(100):
        reads = t._Reads(catalog)
        try:
            text = render(parse(source), t.template_funcs(reads, ENV))
        except MissingData:
            text = None
        catalog.subscribe((watcher, 0), reads.used)  # type: ignore[arg-type]
        if not reads.unfetched and text is not None:
            return text
        await asyncio.sleep(0.05)
    raise AssertionError("the template never had its data")


TEMPLATE = (
    '{{ with nomadVar "nomad/jobs/web" }}pass={{ .password }} user={{ .user.Value }}{{ end }}\n'
    '{{ range nomadVarList "nomad/jobs" }}{{ .Path }};{{ end }}\n'
    'exists={{ nomadVarExists "nomad/jobs/web/web/web" }}\n'
    'safe={{ len (nomadVarListSafe "app") }}'
)


async def test_a_task_reads_its_variables_and_follows_changes(
    srv: SchedulerServer, catalog: t.AllocCatalog
) -> None:
    ops = srv.ops
    ops.set_variable("default", "nomad/jobs/web", {"password": "pw1", "user": "me"})
    ops.set_variable("default", "nomad/jobs/api", {"password": "other job"})
    ops.set_variable("default", "app/secret", {"k": "not the task's"})
    watcher = Watcher()
    text = await rendered(catalog, TEMPLATE, watcher)
    # the task sees only its own job's variables; the list it may not read is empty
    assert text == "pass=pw1 user=me\nnomad/jobs/web;\nexists=false\nsafe=0"
    # The same items written again: nothing `nomadVar` shows changed (the list's
    # metadata did, its ModifyIndex: consul-template re-renders a list for that too).
    only_var = Watcher()
    source = '{{ with nomadVar "nomad/jobs/web" }}{{ .password }}{{ end }}'
    assert await rendered(catalog, source, only_var) == "pw1"
    ops.set_variable("default", "nomad/jobs/web", {"password": "pw1", "user": "me"})
    await asyncio.sleep(0.5)
    assert not only_var.dirty.is_set()
    ops.set_variable("default", "nomad/jobs/web", {"password": "pw2", "user": "me"})
    await asyncio.wait_for(only_var.dirty.wait(), 10)
    assert await rendered(catalog, source, only_var) == "pw2"
    watcher.dirty.clear()
    ops.set_variable("default", "nomad/jobs/web/web/web", {"task": "own"})
    await asyncio.wait_for(watcher.dirty.wait(), 10)
    text = await rendered(catalog, TEMPLATE, watcher)
    assert text == ("pass=pw2 user=me\nnomad/jobs/web;nomad/jobs/web/web/web;\nexists=true\nsafe=0")


async def test_a_missing_variable_holds_the_render_until_written(
    srv: SchedulerServer, catalog: t.AllocCatalog
) -> None:
    watcher = Watcher()
    source = '{{ with nomadVar "nomad/jobs/web/web" }}{{ .k }}{{ end }}'
    reads = t._Reads(catalog)
    with pytest.raises(MissingData):
        for _ in range(50):
            reads = t._Reads(catalog)
            render(parse(source), t.template_funcs(reads, ENV))
            catalog.subscribe((watcher, 0), reads.used)  # type: ignore[arg-type]
            await asyncio.sleep(0.05)
    srv.ops.set_variable("default", "nomad/jobs/web/web", {"k": "now"})
    await asyncio.wait_for(watcher.dirty.wait(), 10)
    assert await rendered(catalog, source, watcher) == "now"


@pytest.mark.parametrize(
    ("spec", "want"),
    [
        ("nomad/jobs/web", ("nomad/jobs/web", "default")),
        ("/a/b/", ("a/b", "default")),
        ("a@prod", ("a", "prod")),
    ],
)
def test_paths_name_a_namespace_after_an_at(spec: str, want: tuple[str, str]) -> None:
    assert tn.split_spec(spec, "default") == want


def test_dependencies_name_the_query_the_template_runner_makes() -> None:
    dep = t.Dependency.nomad(tn.VAR, "nomad/jobs/web", "prod", "task")
    assert (dep.path, dict(dep.params), dep.server) == (
        "/v1/var/nomad/jobs/web",
        {"namespace": "prod"},
        tn.NOMAD,
    )
    listing: Any = t.Dependency.nomad(tn.VAR_LIST, "nomad", "default", "task")
    assert listing.path == "/v1/vars" and dict(listing.params)["prefix"] == "nomad"
    # one view per task: identities differ
    assert dep != t.Dependency.nomad(tn.VAR, "nomad/jobs/web", "prod", "other")

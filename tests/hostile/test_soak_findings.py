"""Regressions for what `bench/soak.py` and the API fuzz (`test_api_fuzz.py`) found.

- A job stopped while its allocations could not be placed kept its blocked evaluation
  `blocked` forever, so `system gc` never collected the job: 200 register/stop cycles left
  200 dead jobs behind. Nomad's state store cancels a job's blocked evaluations when an
  evaluation of that job completes with nothing left unplaced; yurt now does the same.
- The router's `/api/manual/<path>` took dot segments: `..%2F..%2Fx` arrives decoded, and the
  catalog URL built from it is normalised, so it read and wrote the KV key `x`, outside
  `registry.consul.kvpath` (and `/api/manual/%2E%2E` was a 500). Go's ServeMux never lets
  such a path reach Fabio's handler; yurt answers 400.
- A catalog `?filter=` nested 1,000 deep (parentheses or `not`) was a 500 (RecursionError),
  and so was evaluating a chain of a thousand `and`s. Nesting is now bounded (a 400 that
  says so) and `and`/`or` chains are evaluated flat (a URL cannot carry one long enough to
  have overflowed, but nothing else bounds them).
- The client's `fs/ls`, `fs/stat`, `fs/cat` and `fs/readat` with a `path` the OS refuses to
  look up (a name over 255 bytes, a NUL byte) were 500s; they are 400s that say why.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import consul
import nomad
import pytest
import requests

from tests.catalog.conftest import CatalogProcess
from tests.client.conftest import running_cluster
from tests.scheduler.conftest import SchedulerProcess
from tests.support.process import YurtProcess, free_port, wait_for
from yurt.jobspec import parse_job

ROOT = Path(__file__).resolve().parents[2]
JOB = """
job "unplaceable" {
  datacenters = ["dc1"]
  group "g" {
    task "t" {
      driver = "raw_exec"
      config { command = "/bin/true" }
    }
  }
}
"""


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[nomad.Nomad]:
    # No client node: nothing can be placed, so the first evaluation leaves a blocked one.
    sched = SchedulerProcess(tmp_path_factory.mktemp("soak-findings")).start()
    try:
        yield sched.client()
    finally:
        sched.proc.stop()


def _evals(api: nomad.Nomad, job: str) -> dict[str, dict[str, str]]:
    return {
        e["TriggeredBy"]: {"Status": e["Status"], "ID": e["ID"], "Desc": e["StatusDescription"]}
        for e in api.job.get_evaluations(job)
    }


def test_stopping_a_job_cancels_its_blocked_evaluation_and_gc_collects_it(
    api: nomad.Nomad,
) -> None:
    api.jobs.register_job({"Job": parse_job(JOB, "j.nomad")})
    blocked = wait_for(
        lambda: _evals(api, "unplaceable").get("queued-allocs"), what="a blocked evaluation"
    )
    assert blocked["Status"] == "blocked"

    api.job.deregister_job("unplaceable", purge=False)
    evals = wait_for(
        lambda: (
            (e := _evals(api, "unplaceable")).get("job-deregister", {}).get("Status") == "complete"
            and e
        ),
        what="the deregistration evaluated",
    )
    assert evals["queued-allocs"]["Status"] == "canceled"
    assert evals["queued-allocs"]["Desc"] == f'evaluation "{blocked["ID"]}" successful'
    assert api.job.get_job("unplaceable")["Status"] == "dead"

    api.system.initiate_garbage_collection()
    wait_for(lambda: not api.jobs.get_jobs(), what="the stopped job collected")


# Percent-encoded: literal dot segments are already removed by the client and the server's
# URL parsing, before any handler sees them.
@pytest.mark.parametrize(
    "path",
    [
        "..%2F..%2Fsecret",
        "%2E%2E%2F%2E%2E%2Fsecret",
        "a%2F..%2F..%2F..%2Fsecret",
        "%2E%2E",
        "x%2F.%2Fy",
    ],
)
def test_manual_routes_stay_under_kvpath(
    tmp_path_factory: pytest.TempPathFactory,
    catalog_and_router: tuple[consul.Consul, str],
    path: str,
) -> None:
    c, ui = catalog_and_router
    url = f"{ui}/api/manual/{path}"
    put = requests.put(url, json={"value": "route add x / http://127.0.0.1:1/"}, timeout=10)
    assert put.status_code == 400, put.text
    assert "'.' and '..' segments are not allowed" in put.text
    assert requests.get(url, timeout=10).status_code == 400
    assert c.kv.get("secret")[1] is None
    assert c.kv.get("", recurse=True)[1] is None  # nothing was written anywhere


@pytest.fixture(scope="module")
def catalog_and_router(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[consul.Consul, str]]:
    tmp = tmp_path_factory.mktemp("manual-kvpath")
    catalog = CatalogProcess(tmp / "catalog", "-dev").start()
    ui = free_port()
    router = YurtProcess(
        [
            "router",
            "-proxy.addr",
            f"127.0.0.1:{free_port()}",
            "-ui.addr",
            f"127.0.0.1:{ui}",
            "-registry.consul.addr",
            f"127.0.0.1:{catalog.port}",
            "-registry.consul.register.enabled",
            "false",
        ],
        ready_url=f"http://127.0.0.1:{ui}/health",
        log_path=tmp / "router.log",
    )
    try:
        with router:
            yield catalog.client(), f"http://127.0.0.1:{ui}"
    finally:
        catalog.proc.stop()


def test_a_manual_path_without_dot_segments_still_writes_under_kvpath(
    catalog_and_router: tuple[consul.Consul, str],
) -> None:
    c, ui = catalog_and_router
    body = {"value": "route add x / http://127.0.0.1:1/", "version": "0"}
    assert requests.put(f"{ui}/api/manual/a.b/..c", json=body, timeout=10).status_code == 200
    assert c.kv.get("fabio/config/a.b/..c")[1]["Value"] == body["value"].encode()
    c.kv.delete("fabio/config/a.b/..c")


@pytest.mark.parametrize(
    ("expr", "status"),
    [
        ("(" * 1000 + "ServiceName == x" + ")" * 1000, 400),
        ("not " * 1000 + "ServiceName == x", 400),
        ("(" * 100 + "ServiceName == x" + ")" * 100, 200),
        (" and ".join(["ServiceName != x"] * 300), 200),
        (" or ".join(["ServiceName == x"] * 300), 200),
    ],
    ids=["parens", "nots", "100-parens", "and-chain", "or-chain"],
)
def test_deep_filters_are_400s_and_long_chains_are_evaluated(
    catalog_and_router: tuple[consul.Consul, str], expr: str, status: int
) -> None:
    c, _ = catalog_and_router
    url = f"http://127.0.0.1:{c.http.port}/v1/health/state/any"
    resp = requests.get(url, params={"filter": expr}, timeout=10)
    assert resp.status_code == status, resp.text[:300]
    if status == 400:
        assert resp.text.startswith(
            "Failed to create boolean expression evaluator: expression is nested more than "
            "100 levels deep"
        )


@pytest.mark.parametrize("path", ["(" * 300, "alloc/" + "b" * 256, "alloc/\x00x"])
@pytest.mark.parametrize("op", ["ls", "stat", "cat", "readat"])
def test_fs_paths_the_os_refuses_are_400s(fs_cluster: tuple[str, str], op: str, path: str) -> None:
    client_url, alloc_id = fs_cluster
    resp = requests.get(
        f"{client_url}/v1/client/fs/{op}/{alloc_id}", params={"path": path}, timeout=10
    )
    assert resp.status_code == 400, resp.text[:300]
    why = "embedded null byte" if "\x00" in path else "file name too long"
    assert resp.text == f"stat {path[:200]}: {why}"


@pytest.fixture(scope="module")
def fs_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    with running_cluster(tmp_path_factory.mktemp("fs-paths")) as cluster:
        cluster.run((ROOT / "jobs" / "job.sleep.nomad").read_text())
        alloc = cluster.wait_alloc("job-sleep", "running")
        yield cluster.client.url, str(alloc["ID"])

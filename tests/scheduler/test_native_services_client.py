"""Native service discovery end to end: a real `yurt client` runs a job whose services say
`provider = "nomad"`; it registers them with the scheduler (not the catalog) under Nomad's
IDs, and they go when the allocation stops."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from tests.client.conftest import Cluster, running_cluster, wait_for

JOB = """
job "nsvc" {
  datacenters = ["dc1"]
  group "web" {
    network {
      port "http" {}
    }
    service {
      name     = "nsvc-web"
      provider = "nomad"
      port     = "http"
      tags     = ["v1", "dc-${NOMAD_DC}"]
    }
    service {
      name = "nsvc-consul"
      port = "http"
    }
    task "server" {
      driver = "raw_exec"
      config {
        command = "/bin/sleep"
        args    = ["1000"]
      }
      service {
        name     = "nsvc-task"
        provider = "nomad"
        port     = "http"
      }
    }
  }
}
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with running_cluster(tmp_path_factory.mktemp("nsvc")) as c:
        yield c


def service(cluster: Cluster, name: str) -> list[dict]:
    got: list[dict] = cluster.get(f"/v1/service/{name}").json()
    return got


def test_client_registers_nomad_services(cluster: Cluster) -> None:
    cluster.run(JOB)
    alloc = cluster.wait_alloc("nsvc", "running")
    port = alloc["AllocatedResources"]["Shared"]["Ports"][0]["Value"]
    (group,) = wait_for(lambda: service(cluster, "nsvc-web"), what="group service")
    assert group["ID"] == f"_nomad-task-{alloc['ID']}-group-web-nsvc-web-http"
    assert (group["AllocID"], group["JobID"], group["NodeID"]) == (
        alloc["ID"],
        "nsvc",
        alloc["NodeID"],
    )
    assert (group["Port"], group["Address"], group["Datacenter"]) == (port, "127.0.0.1", "dc1")
    assert group["Tags"] == ["v1", "dc-dc1"]
    (task,) = wait_for(lambda: service(cluster, "nsvc-task"), what="task service")
    assert task["ID"] == f"_nomad-task-{alloc['ID']}-server-nsvc-task-http"
    # the consul one goes to the catalog, the nomad ones do not
    wait_for(lambda: cluster.consul.catalog.service("nsvc-consul")[1], what="consul service")
    assert not cluster.consul.catalog.service("nsvc-web")[1]
    listed = cluster.get("/v1/job/nsvc/services").json()
    assert sorted(r["ServiceName"] for r in listed) == ["nsvc-task", "nsvc-web"]

    cluster.stop_job("nsvc")
    cluster.wait_alloc("nsvc", "complete")
    wait_for(lambda: not service(cluster, "nsvc-web"), what="group service removed")
    assert service(cluster, "nsvc-task") == []
    assert requests.get(f"{cluster.sched.url}/v1/services", timeout=5).json() == []

"""A client on another host: its allocations get that host's address, as Nomad's do.

The second host is a network namespace joined to this one by a veth pair (needs root). The
catalog and the scheduler listen on this host's end of the pair; `yurt client` runs in the
namespace with no `-network-ip` and no `network_interface`, so the node's network is the
interface of its default route. Its allocation's network, the task's `NOMAD_IP_*` and
`NOMAD_ADDR_*`, and the service the catalog checks from this host all carry the
namespace's address: from here the service answers on it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import consul
import nomad
import pytest
import requests

from tests.client.conftest import wait_for
from tests.support.netns import Peer, peer_host
from tests.support.process import YurtProcess, free_port
from yurt.jobspec import parse_job

pytestmark = pytest.mark.slow

JOB = """
job "remote" {
  datacenters = ["dc1"]
  group "web" {
    network {
      port "http" {}
    }
    service {
      name = "remote-web"
      port = "http"
      check {
        type     = "http"
        path     = "/"
        interval = "1s"
        timeout  = "1s"
      }
    }
    task "server" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", <<EOT
env > local/env.txt
exec python3 -m http.server ${NOMAD_PORT_http} --bind ${NOMAD_IP_http}
EOT
        ]
      }
    }
  }
}
"""


@dataclass
class TwoHosts:
    peer: Peer
    api: nomad.Nomad
    catalog: consul.Consul
    sched_url: str


@pytest.fixture
def two_hosts(tmp_path: Path) -> Iterator[TwoHosts]:
    assert os.geteuid() == 0, "this test makes a network namespace and a veth pair: run as root"
    with peer_host() as peer:
        here = peer.host_ip
        cport, sport, clport = free_port(), free_port(), free_port()
        catalog = YurtProcess(
            [
                *("catalog", "-dev", "-http-addr", f"{here}:{cport}", "-node", "host-a"),
                *("-data-dir", str(tmp_path / "catalog")),
            ],
            ready_url=f"http://{here}:{cport}/v1/status/leader",
            log_path=tmp_path / "catalog.log",
        )
        sched = YurtProcess(
            ["scheduler", "-http-addr", f"{here}:{sport}", "-data-dir", str(tmp_path / "sched")],
            ready_url=f"http://{here}:{sport}/v1/agent/health",
            log_path=tmp_path / "scheduler.log",
        )
        client = YurtProcess(
            [
                *("client", "-servers", f"{here}:{sport}", "-consul-addr", f"{here}:{cport}"),
                *("-http-addr", f"{peer.ip}:{clport}", "-node", "host-b", "-raw-exec"),
                *("-data-dir", str(tmp_path / "client")),
            ],
            ready_url=f"http://{peer.ip}:{clport}/v1/agent/health?type=client",
            log_path=tmp_path / "client.log",
            prefix=peer.exec_prefix,
        )
        started: list[YurtProcess] = []
        try:
            for proc in (catalog, sched, client):
                started.append(proc.start())
            yield TwoHosts(
                peer,
                nomad.Nomad(host=here, port=sport, timeout=15),
                consul.Consul(host=here, port=cport),
                f"http://{here}:{sport}",
            )
        finally:
            for proc in reversed(started):
                proc.stop()


def _env(hosts: TwoHosts, alloc_id: str) -> dict[str, str]:
    # Through the scheduler, which forwards to the client at its address on the other host.
    resp = requests.get(
        f"{hosts.sched_url}/v1/client/fs/cat/{alloc_id}",
        params={"path": "server/local/env.txt"},
        timeout=20,
    )
    if resp.status_code != 200:
        return {}
    return dict(line.split("=", 1) for line in resp.text.splitlines() if "=" in line)


def _running(api: nomad.Nomad) -> dict[str, Any] | None:
    for stub in api.job.get_allocations("remote"):
        if stub["ClientStatus"] == "running":
            return dict(api.allocation.get_allocation(stub["ID"]))
    return None


def test_allocations_get_the_address_of_the_clients_host(two_hosts: TwoHosts) -> None:
    hosts, peer = two_hosts, two_hosts.peer
    nodes = wait_for(lambda: hosts.api.nodes.get_nodes(), what="the node on host B")
    node = hosts.api.node.get_node(nodes[0]["ID"])
    (network,) = node["NodeResources"]["Networks"]
    assert (network["Device"], network["IP"], network["CIDR"]) == (
        peer.device,
        peer.ip,
        f"{peer.ip}/32",
    )
    assert node["Attributes"]["unique.network.ip-address"] == peer.ip

    hosts.api.jobs.register_job({"Job": parse_job(JOB, "remote.nomad")})
    alloc = wait_for(lambda: _running(hosts.api), 60, "the allocation running on host B")
    shared = alloc["AllocatedResources"]["Shared"]
    (alloc_net,) = shared["Networks"]
    # Nomad fills the allocation's network from the group's ask (Mode and Device as asked:
    # empty here, as the real Nomad answers) with the node's address
    assert (alloc_net["IP"], alloc_net["Device"], alloc_net["Mode"]) == (peer.ip, "", "")
    (port,) = shared["Ports"]
    assert port["HostIP"] == peer.ip
    value = port["Value"]

    env = wait_for(lambda: _env(hosts, alloc["ID"]), what="the task's environment")
    assert env["NOMAD_IP_http"] == env["NOMAD_HOST_IP_http"] == peer.ip
    assert env["NOMAD_ADDR_http"] == env["NOMAD_HOST_ADDR_http"] == f"{peer.ip}:{value}"

    # The catalog on this host checks the service at the other host's address and passes it.
    def passing() -> list[dict[str, Any]]:
        return list(hosts.catalog.health.service("remote-web", passing=True)[1])

    (entry,) = wait_for(passing, 30, "remote-web passing in the catalog")
    assert (entry["Service"]["Address"], entry["Service"]["Port"]) == (peer.ip, value)
    assert requests.get(f"http://{peer.ip}:{value}/", timeout=10).status_code == 200

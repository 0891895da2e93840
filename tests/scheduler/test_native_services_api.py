"""Nomad's native service discovery API on a real scheduler process: a simulated node
registers its allocation's services through the internal protocol, and Nomad's
`/v1/services`, `/v1/service/:name` (tag, filter, blocking), `DELETE /v1/service/:name/:id`,
`/v1/job/:id/services` and `/v1/allocation/:id/services` answer with Nomad's shapes."""

from __future__ import annotations

import threading
import time
from typing import Any

import nomad
import requests
from click.testing import CliRunner

from tests.scheduler import jobs as J
from tests.scheduler.conftest import SchedulerProcess
from tests.scheduler.simnode import SimNode, wait_for
from yurt.cli.service import service as cli_service

Obj = dict[str, Any]
FIELDS = [
    "Address",
    "AllocID",
    "CreateIndex",
    "Datacenter",
    "ID",
    "JobID",
    "ModifyIndex",
    "Namespace",
    "NodeID",
    "Port",
    "ServiceName",
    "Tags",
]


def registration(node: SimNode, alloc: Obj, sid: str, name: str, tags: list[str]) -> Obj:
    return {
        "ID": sid,
        "ServiceName": name,
        "Namespace": "default",
        "NodeID": node.id,
        "Datacenter": node.datacenter,
        "JobID": alloc["JobID"],
        "AllocID": alloc["ID"],
        "Tags": tags,
        "Address": "127.0.0.1",
        "Port": 21000,
    }


def sync(node: SimNode, upsert: list[Obj], remove: list[str] | None = None) -> requests.Response:
    return node.session.put(
        f"{node.base}/v1/internal/node/{node.id}/services",
        json={"Upsert": upsert, "Remove": remove or []},
        timeout=10,
    )


def test_native_services(sched: SchedulerProcess, api: nomad.Nomad) -> None:
    base = sched.url
    node = SimNode(base, "svc-node", meta={"set": "svc"}).start_heartbeats()
    node.register()
    try:
        only_here = [{"LTarget": "${meta.set}", "RTarget": "svc", "Operand": "="}]
        api.job.register_job("svcjob", {"Job": J.job("svcjob", constraints=only_here)})
        (alloc,) = wait_for(lambda: node.allocs(wait="10ms")[0], what="placed")
        node.act()
        assert requests.get(f"{base}/v1/job/svcjob/services", timeout=5).json() == []

        # a node may not register with another's secret, nor for an alloc it does not run
        other = SimNode(base, "svc-other").register()
        assert other["NodeID"] != node.id
        bad = registration(node, alloc, "x", "web", [])
        r = requests.put(
            f"{base}/v1/internal/node/{node.id}/services",
            json={"Upsert": [bad]},
            headers={"X-Yurt-Node-Secret": "wrong"},
            timeout=5,
        )
        assert r.status_code == 403
        r = sync(node, [{**bad, "AllocID": "0" * 36}])
        assert r.status_code == 400 and "is not on node" in r.text

        regs = [
            registration(node, alloc, "svc-a", "web", ["v1", "blue"]),
            registration(node, alloc, "svc-b", "cache", []),
        ]
        r = sync(node, regs)
        assert r.status_code == 200, r.text
        index = int(r.headers["X-Nomad-Index"])

        listed = requests.get(f"{base}/v1/services", timeout=5)
        assert listed.json() == [
            {
                "Namespace": "default",
                "Services": [
                    {"ServiceName": "cache", "Tags": []},
                    {"ServiceName": "web", "Tags": ["blue", "v1"]},
                ],
            }
        ]
        assert int(listed.headers["X-Nomad-Index"]) == index

        (web,) = requests.get(f"{base}/v1/service/web", timeout=5).json()
        assert sorted(web) == FIELDS
        assert (web["ID"], web["NodeID"], web["AllocID"], web["Port"]) == (
            "svc-a",
            node.id,
            alloc["ID"],
            21000,
        )
        assert web["CreateIndex"] == web["ModifyIndex"] == index
        assert requests.get(f"{base}/v1/service/web?tag=v2", timeout=5).json() == []
        assert len(requests.get(f"{base}/v1/service/web?tag=blue", timeout=5).json()) == 1
        q = {"filter": 'Tags contains "v1"'}
        assert len(requests.get(f"{base}/v1/service/web", params=q, timeout=5).json()) == 1
        q = {"filter": "Port == "}
        assert requests.get(f"{base}/v1/service/web", params=q, timeout=5).status_code == 400
        assert requests.get(f"{base}/v1/service/nothing", timeout=5).json() == []
        assert requests.get(f"{base}/v1/service/web?namespace=other", timeout=5).json() == []
        missing = requests.get(f"{base}/v1/service/", timeout=5)
        assert (missing.status_code, missing.text) == (400, "missing service name")

        by_job = requests.get(f"{base}/v1/job/svcjob/services", timeout=5).json()
        assert [s["ID"] for s in by_job] == ["svc-b", "svc-a"]
        by_alloc = requests.get(f"{base}/v1/allocation/{alloc['ID']}/services", timeout=5)
        assert [s["ID"] for s in by_alloc.json()] == ["svc-b", "svc-a"]
        nojob = requests.get(f"{base}/v1/job/nosuchjob/services", timeout=5)
        assert (nojob.status_code, nojob.text) == (404, "job not found")
        noalloc = requests.get(f"{base}/v1/allocation/{'f' * 36}/services", timeout=5)
        assert noalloc.status_code == 404

        # a blocking read wakes when a registration changes
        got: list[Any] = []

        def block() -> None:
            resp = requests.get(
                f"{base}/v1/service/web", params={"index": str(index), "wait": "10s"}, timeout=20
            )
            got.append(resp.json())

        waiter = threading.Thread(target=block)
        waiter.start()
        time.sleep(0.3)
        assert not got
        sync(node, [registration(node, alloc, "svc-a", "web", ["v3"])]).raise_for_status()
        waiter.join(10)
        assert got and got[0][0]["Tags"] == ["v3"]

        # `yurt service` as `nomad service`
        run = CliRunner(env={"NOMAD_ADDR": base}).invoke
        out = run(cli_service, ["list"])
        assert out.exit_code == 0, out.output
        assert out.output.splitlines() == [
            "Service Name  Tags",
            "cache         []",
            "web           [v3]",
        ]
        out = run(cli_service, ["info", "web"])
        assert out.output.splitlines()[1].split() == [
            "svcjob",
            "127.0.0.1:21000",
            "[v3]",
            node.id[:8],
            alloc["ID"][:8],
        ]
        assert "No service registrations found" in run(cli_service, ["info", "x"]).output
        out = run(cli_service, ["delete", "cache", "svc-b"])
        assert out.output == "Successfully deleted service registration\n"
        out = run(cli_service, ["delete", "cache", "svc-b"])
        assert out.exit_code == 1 and "service registration not found" in out.output
        sync(node, [registration(node, alloc, "svc-b", "cache", [])]).raise_for_status()

        # the operator's delete, then Nomad's delete of what is not there
        d = requests.delete(f"{base}/v1/service/cache/svc-b", timeout=5)
        assert d.status_code == 200 and d.json() is None and int(d.headers["X-Nomad-Index"]) > 0
        assert requests.get(f"{base}/v1/service/cache", timeout=5).json() == []
        d = requests.delete(f"{base}/v1/service/cache/svc-b", timeout=5)
        assert d.status_code == 404

        # the registrations go with the allocation
        api.job.deregister_job("svcjob")

        def gone() -> bool:
            node.act()  # the node reports the allocation complete
            return not requests.get(f"{base}/v1/service/web", timeout=5).json()

        wait_for(gone, what="registrations removed")
        assert requests.get(f"{base}/v1/services", timeout=5).json() == []
    finally:
        node.stop_heartbeats()

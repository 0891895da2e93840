"""The browser guard on a real `yurt up`: the issue's cross-site request runs nothing, a
rebinding Host is refused on every API listener, and the libraries and same-origin pages
still work. The router's proxy port serves users' apps and is not guarded."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import consul
import nomad
import pytest
import requests

from tests.support.process import YurtProcess, free_port, wait_for

ATTACK_JOB = {
    "Job": {
        "ID": "x",
        "Type": "batch",
        "Datacenters": ["dc1"],
        "TaskGroups": [
            {
                "Name": "g",
                "Tasks": [
                    {
                        "Name": "t",
                        "Driver": "raw_exec",
                        "Config": {"command": "/bin/sh", "args": ["-c", "touch {marker}"]},
                    }
                ],
            }
        ],
    }
}


@dataclass
class Stack:
    catalog: int
    scheduler: int
    router_ui: int
    proxy: int
    client: int
    tmp: Path

    def url(self, port: int) -> str:
        return f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("guard")
    ports = {name: free_port() for name in ("catalog", "scheduler", "ui", "proxy")}
    config = tmp / "agent.hcl"
    config.write_text(
        f"ports {{ http = {ports['scheduler']} }}\n"
        f'consul {{ address = "127.0.0.1:{ports["catalog"]}" }}\n'
        'http_allowed_origins = ["https://ops.example.com"]\n'
        f'router {{\n  proxy_addr = "127.0.0.1:{ports["proxy"]}"\n'
        f'  ui_addr = "127.0.0.1:{ports["ui"]}"\n}}\n'
    )
    proc = YurtProcess(
        ["up", "-dev", "-config", str(config)],
        ready_url=f"http://127.0.0.1:{ports['scheduler']}/v1/agent/health",
        log_path=tmp / "yurt.log",
        timeout=60,
    )
    with proc:
        base = f"http://127.0.0.1:{ports['scheduler']}"

        def client_port() -> int | None:
            nodes = requests.get(f"{base}/v1/nodes", timeout=10).json()
            if not nodes:
                return None
            node = requests.get(f"{base}/v1/node/{nodes[0]['ID']}", timeout=10).json()
            return int(node["HTTPAddr"].rsplit(":", 1)[1])

        port = wait_for(client_port, timeout=60, what="the client node")
        wait_for(
            lambda: requests.get(f"http://127.0.0.1:{ports['ui']}/api/routes", timeout=5).ok,
            timeout=30,
            what="the router's UI",
        )
        yield Stack(ports["catalog"], ports["scheduler"], ports["ui"], ports["proxy"], port, tmp)


def test_the_issues_cross_site_request_is_refused_and_runs_nothing(stack: Stack) -> None:
    marker = stack.tmp / "pwned"
    body = json.dumps(ATTACK_JOB).replace("{marker}", str(marker))
    resp = requests.post(
        f"{stack.url(stack.scheduler)}/v1/jobs",
        data=body,
        headers={
            "Content-Type": "text/plain",
            "Origin": "http://attacker.example",
            "Host": f"attacker.example:{stack.scheduler}",
        },
        timeout=10,
    )
    assert resp.status_code == 403
    assert "attacker.example" in resp.text
    # A plain cross-site fetch (loopback Host, foreign Origin) is refused too.
    resp = requests.post(
        f"{stack.url(stack.scheduler)}/v1/jobs",
        data=body,
        headers={"Content-Type": "text/plain", "Origin": "http://attacker.example"},
        timeout=10,
    )
    assert resp.status_code == 403
    time.sleep(1)
    assert requests.get(f"{stack.url(stack.scheduler)}/v1/jobs", timeout=10).json() == []
    assert not marker.exists()


@pytest.mark.parametrize("listener", ["catalog", "scheduler", "router_ui", "client"])
def test_a_rebinding_host_is_refused_on_every_api_listener(stack: Stack, listener: str) -> None:
    port = getattr(stack, listener)
    path = {
        "catalog": "/v1/kv/?recurse",
        "scheduler": "/v1/jobs",
        "router_ui": "/api/routes",
        "client": "/v1/client/stats",
    }[listener]
    url = stack.url(port) + path
    rebound = requests.get(url, headers={"Host": f"rebind.example:{port}"}, timeout=10)
    assert rebound.status_code == 403
    assert "rebind.example" in rebound.text
    same_origin = requests.get(
        url, headers={"Origin": f"http://127.0.0.1:{port}", "Sec-Fetch-Site": "same-origin"}
    )
    assert same_origin.status_code != 403


def test_an_allowed_origin_passes_with_its_own_host(stack: Stack) -> None:
    resp = requests.get(
        f"{stack.url(stack.scheduler)}/v1/jobs",
        headers={"Origin": "https://ops.example.com", "Host": "ops.example.com"},
        timeout=10,
    )
    assert resp.status_code == 200


def test_the_proxy_port_is_not_guarded(stack: Stack) -> None:
    resp = requests.get(
        f"{stack.url(stack.proxy)}/nothing-here",
        headers={"Origin": "http://attacker.example", "Host": "app.example"},
        timeout=10,
    )
    assert resp.status_code == 404  # no route: the proxy answered, not the guard


def test_the_client_libraries_send_no_origin_and_work(stack: Stack) -> None:
    c = consul.Consul(host="127.0.0.1", port=stack.catalog)
    assert c.kv.put("guard/ok", "yes")
    assert c.kv.get("guard/ok")[1]["Value"] == b"yes"
    n = nomad.Nomad(host="127.0.0.1", port=stack.scheduler, timeout=10)
    assert isinstance(n.jobs.get_jobs(), list)
    assert n.nodes.get_nodes()[0]["Status"] == "ready"

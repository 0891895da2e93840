"""Nomad's ACLs on the client's own API and on the scheduler's forwarding to it: a real
scheduler with ACLs on, a real `yurt client`, one running raw_exec allocation."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import requests

from tests.client.conftest import ClientProcess, wait_for
from tests.scheduler.conftest import SchedulerProcess
from yurt.jobspec import parse_job

JOB = """
job "talker" {
  datacenters = ["dc1"]
  group "g" {
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo hello-acl; sleep 300"]
      }
    }
  }
}
"""


class Setup:
    def __init__(self, sched: SchedulerProcess, client: ClientProcess, root: str) -> None:
        self.sched = sched
        self.client = client
        self.root = root
        self.alloc_id = ""

    def call(
        self, base: str, method: str, path: str, token: str = "", **kw: Any
    ) -> requests.Response:
        headers = {"X-Nomad-Token": token} if token else {}
        return requests.request(method, base + path, headers=headers, timeout=20, **kw)

    def token(self, rules: str, name: str) -> str:
        put = self.call(
            self.sched.url,
            "PUT",
            f"/v1/acl/policy/{name}",
            self.root,
            json={"Name": name, "Rules": rules},
        )
        assert put.status_code == 200, put.text
        body = {"Name": name, "Type": "client", "Policies": [name]}
        made = self.call(self.sched.url, "POST", "/v1/acl/token", self.root, json=body)
        assert made.status_code == 200, made.text
        return str(made.json()["SecretID"])


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    tmp = tmp_path_factory.mktemp("aclclient")
    sched = SchedulerProcess(tmp / "sched", "-acl-enabled").start()
    client = ClientProcess(tmp, f"127.0.0.1:{sched.port}", None).start()
    try:
        root = requests.post(sched.url + "/v1/acl/bootstrap", timeout=10).json()["SecretID"]
        s = Setup(sched, client, root)
        job = parse_job(JOB, "talker.nomad")
        reg = s.call(sched.url, "POST", "/v1/jobs", root, json={"Job": job})
        assert reg.status_code == 200, reg.text

        def running() -> str:
            allocs = s.call(sched.url, "GET", "/v1/job/talker/allocations", root).json()
            return next((a["ID"] for a in allocs if a["ClientStatus"] == "running"), "")

        s.alloc_id = wait_for(running, 30, "the talker allocation running")
        yield s
    finally:
        client.proc.stop()
        sched.proc.stop(timeout=3)


def _logs(alloc_id: str) -> str:
    return f"/v1/client/fs/logs/{alloc_id}?task=t&type=stdout&plain=true"


@pytest.mark.parametrize("via", ["client", "scheduler"])
def test_capabilities_on_client_paths(setup: Setup, via: str) -> None:
    base = setup.client.url if via == "client" else setup.sched.url
    logs_only = setup.token('namespace "default" { capabilities = ["read-logs"] }', f"logs-{via}")
    node_reader = setup.token('node { policy = "read" }', f"node-{via}")
    a = setup.alloc_id
    cases = [
        # (path, token, expected status)
        (_logs(a), "", 403),
        (_logs(a), logs_only, 200),
        (_logs(a), setup.root, 200),
        (f"/v1/client/fs/ls/{a}?path=/", logs_only, 403),
        (f"/v1/client/fs/ls/{a}?path=/", setup.root, 200),
        (f"/v1/client/allocation/{a}/stats", logs_only, 403),
        (f"/v1/client/allocation/{a}/stats", node_reader, 403),
        (f"/v1/client/allocation/{a}/stats", setup.root, 200),
    ]
    if via == "client":
        cases += [
            ("/v1/client/stats", "", 403),
            ("/v1/client/stats", node_reader, 200),
            ("/v1/client/stats", logs_only, 403),
        ]
    else:
        node_id = setup.call(setup.sched.url, "GET", f"/v1/allocation/{a}", setup.root).json()[
            "NodeID"
        ]
        cases += [
            (f"/v1/client/stats?node_id={node_id}", "", 403),
            (f"/v1/client/stats?node_id={node_id}", node_reader, 200),
        ]
    for path, token, status in cases:
        resp = setup.call(base, "GET", path, token)
        assert resp.status_code == status, (via, path, resp.text)
        if status == 403:
            assert resp.text == "Permission denied"
    hello = setup.call(base, "GET", _logs(a), logs_only)
    assert "hello-acl" in hello.text


@pytest.mark.parametrize("via", ["client", "scheduler"])
def test_unknown_secret_and_lifecycle(setup: Setup, via: str) -> None:
    base = setup.client.url if via == "client" else setup.sched.url
    bogus = setup.call(base, "GET", _logs(setup.alloc_id), "00000000-0000-0000-0000-000000000000")
    assert (bogus.status_code, bogus.text) == (403, "ACL token not found")
    reader = setup.token('namespace "default" { policy = "read" }', f"reader-{via}")
    lifecycle = setup.token(
        'namespace "default" { capabilities = ["alloc-lifecycle"] }', f"life-{via}"
    )
    for token, status in ((reader, 403), (lifecycle, 200)):
        signal = setup.call(
            base,
            "POST",
            f"/v1/client/allocation/{setup.alloc_id}/signal",
            token,
            json={"Signal": "SIGCONT", "Task": "t"},
        )
        assert signal.status_code == status, signal.text
        if status == 403:
            assert signal.text == "Permission denied"


def test_exec_into_raw_exec_needs_alloc_node_exec(setup: Setup) -> None:
    path = f"/v1/client/allocation/{setup.alloc_id}/exec?task=t&command=%5B%22true%22%5D"
    exec_only = setup.token('namespace "default" { capabilities = ["alloc-exec"] }', "exec-only")
    both = setup.token(
        'namespace "default" { capabilities = ["alloc-exec", "alloc-node-exec"] }', "exec-node"
    )
    for base in (setup.client.url, setup.sched.url):
        refused = setup.call(base, "GET", path, exec_only)
        assert (refused.status_code, refused.text) == (403, "Permission denied"), base
        # past the ACL check, a plain GET (no WebSocket upgrade) is the handler's to answer
        allowed = setup.call(base, "GET", path, both)
        assert allowed.status_code != 403, (base, allowed.text)


def test_health_stays_open(setup: Setup) -> None:
    resp = requests.get(setup.client.url + "/v1/agent/health?type=client", timeout=10)
    assert resp.status_code == 200


def test_every_client_route_has_a_need(tmp_path: Path) -> None:
    """The client's own routes: each is open (health) or named in the scheduler's table;
    none falls through to the management-only default by accident."""
    from yurt.client.acl import client_need
    from yurt.client.agent import ClientAgent
    from yurt.client.config import ClientConfig
    from yurt.client.http_api import build_app

    app = build_app(ClientAgent(ClientConfig(data_dir=tmp_path)))
    seen = 0
    for route in app.router.routes():
        resource = route.resource
        assert resource is not None
        path = resource.canonical.replace("{alloc}", "a1")
        need = client_need(path)
        if path == "/v1/agent/health":
            assert need.kind == "open"
        else:
            assert need.kind in ("ns", "node"), (route.method, path, need)
        seen += 1
    assert seen >= 10


async def test_exec_websocket_through_the_scheduler_carries_the_token(setup: Setup) -> None:
    both = setup.token(
        'namespace "default" { capabilities = ["alloc-exec", "alloc-node-exec"] }', "exec-ws"
    )
    params = {"task": "t", "command": json.dumps(["/bin/sh", "-c", "echo via-ws"])}
    url = f"{setup.sched.url}/v1/client/allocation/{setup.alloc_id}/exec"
    out = bytearray()
    async with aiohttp.ClientSession() as session:
        # without a token the upgrade is refused with Nomad's text
        async with session.get(url, params=params, headers={"Upgrade": "websocket"}) as refused:
            assert (refused.status, await refused.text()) == (403, "Permission denied")
        async with session.ws_connect(url, params=params, headers={"X-Nomad-Token": both}) as ws:
            await ws.send_str(json.dumps({"stdin": {"close": True}}))
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    break
                body = json.loads(msg.data)
                if (body.get("stdout") or {}).get("data"):
                    out += base64.b64decode(body["stdout"]["data"])
                if body.get("exited"):
                    assert body["result"]["exit_code"] == 0
                    break
    assert out == b"via-ws\n"

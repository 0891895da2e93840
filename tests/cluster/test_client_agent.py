"""A catalog agent in client mode (`yurt catalog -client -servers a,b`): a real server and a
real client agent on their own loopback addresses. The agent keeps its node's services and
runs their checks; anti-entropy puts them, their check results and their removal on the
server, and puts back what the server lost; everything but `/v1/agent/*` is answered by a
server (the first of `-servers` is dead: the next one answers); on a clean stop the node
leaves the server's catalog."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests

from tests.support.process import YurtProcess, free_port, wait_for


def _health(url: str, service: str) -> list[tuple[str, str]]:
    got = requests.get(f"{url}/v1/health/service/{service}", timeout=5).json()
    return [
        (e["Node"]["Node"], c["Status"])
        for e in got
        for c in e["Checks"]
        if c["CheckID"] != "serfHealth"
    ]


def _nodes(url: str) -> list[str]:
    return sorted(n["Node"] for n in requests.get(f"{url}/v1/catalog/nodes", timeout=5).json())


def test_a_client_agent_keeps_its_node_on_the_servers(tmp_path: Path) -> None:
    sport, aport, dead = free_port("127.0.0.1"), free_port("127.0.0.2"), free_port("127.0.0.3")
    server_url, agent_url = f"http://127.0.0.1:{sport}", f"http://127.0.0.2:{aport}"
    server = YurtProcess(
        [
            *("catalog", "-http-addr", f"127.0.0.1:{sport}", "-node", "server-1"),
            *("-data-dir", str(tmp_path / "server")),
        ],
        ready_url=f"{server_url}/v1/status/leader",
        log_path=tmp_path / "server.log",
    )
    agent = YurtProcess(
        [
            *("catalog", "-client", "-servers", f"127.0.0.3:{dead},127.0.0.1:{sport}"),
            *("-http-addr", f"127.0.0.2:{aport}", "-advertise", "127.0.0.2", "-node", "agent-1"),
            *("-data-dir", str(tmp_path / "agent")),
        ],
        ready_url=f"{agent_url}/v1/agent/self",
        log_path=tmp_path / "agent.log",
    )
    with server, agent:
        logs = lambda: f"\n--- agent ---\n{agent.log()}\n--- server ---\n{server.log()}"  # noqa: E731
        wait_for(lambda: "agent-1" in _nodes(server_url), 10, "the agent's node on the server")
        node = requests.get(f"{server_url}/v1/catalog/node/agent-1", timeout=5).json()
        assert node["Node"]["Address"] == "127.0.0.2"
        assert "consul" not in node["Services"]  # a server's own service, not a client's

        reg: dict[str, Any] = {
            "ID": "web-1",
            "Name": "web",
            "Port": 8080,
            "Tags": ["urlprefix-/"],
            "Check": {"CheckID": "web-ttl", "TTL": "30s"},
        }
        assert requests.put(f"{agent_url}/v1/agent/service/register", json=reg).status_code == 200
        wait_for(
            lambda: _health(server_url, "web") == [("agent-1", "critical")],
            10,
            "the service and its check on the server" + logs(),
        )
        # the check runs on the agent; its result reaches the server
        assert requests.put(f"{agent_url}/v1/agent/check/pass/web-ttl").status_code == 200
        wait_for(lambda: _health(server_url, "web") == [("agent-1", "passing")], 10, "passing")

        # reads and writes that are not the agent's own go to the server (past the dead one)
        put = requests.put(f"{agent_url}/v1/kv/app/config", data=b"v1", timeout=10)
        assert put.status_code == 200 and put.json() is True, put.text
        assert requests.get(f"{server_url}/v1/kv/app/config?raw", timeout=5).text == "v1"
        other = {"Node": "ext", "Address": "10.9.9.9", "Service": {"Service": "db", "Port": 5432}}
        assert requests.put(f"{server_url}/v1/catalog/register", json=other).json() is True
        services = requests.get(f"{agent_url}/v1/catalog/services", timeout=5).json()
        assert {"db", "web"} <= set(services), services
        assert requests.get(f"{agent_url}/v1/status/leader", timeout=5).json()

        # anti-entropy: what the server loses of the agent's node is put back
        gone = {"Node": "agent-1", "ServiceID": "web-1"}
        assert requests.put(f"{server_url}/v1/catalog/deregister", json=gone).json() is True
        wait_for(lambda: _health(server_url, "web") == [("agent-1", "passing")], 10, "put back")

        # removed on the agent: removed on the server
        assert requests.put(f"{agent_url}/v1/agent/service/deregister/web-1").status_code == 200
        wait_for(lambda: _health(server_url, "web") == [], 10, "the service gone from the server")

        agent.stop()
        assert "agent-1" not in _nodes(server_url)  # it left on its way out
        assert "ext" in _nodes(server_url)

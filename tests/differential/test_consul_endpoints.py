"""The same requests to yurt's catalog and to the real Consul (1.10.11, from
`../shared/reference`, run in a network namespace of its own), compared by status, text and
shape: events, operator, coordinates, config entries, the Connect views, and the refusals
whose texts clients show. Skipped when the reference binaries are absent; never the only
test of these endpoints (see tests/catalog/test_agent_ops.py, test_operator_api.py,
test_snapshot.py, test_config_entries.py, test_connect.py, ...). Where Consul 1.17 (the
version yurt reports) differs from 1.10 (a 404 for an unknown check ServiceID, `?peer=`),
the catalog's own tests hold the newer behaviour."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.catalog.conftest import CatalogProcess
from tests.differential.reference import REFERENCE, reference_process
from tests.support.netns import peer_host
from tests.support.process import wait_for

Obj = dict[str, Any]

CONSUL = REFERENCE / "consul"

pytestmark = [
    pytest.mark.process,
    pytest.mark.skipif(not CONSUL.exists(), reason="no reference binaries"),
]


@contextlib.contextmanager
def real_consul(tmp: Path) -> Iterator[str]:
    with peer_host() as peer:
        argv = [*peer.exec_prefix, str(CONSUL), "agent", "-dev", "-client", peer.ip]
        with reference_process([*argv, "-bind", peer.ip], tmp / "consul.log"):
            url = f"http://{peer.ip}:8500"
            wait_for(lambda: _ok(url + "/v1/status/leader"), 30, "the real Consul")
            yield url


def _ok(url: str) -> bool:
    try:
        resp = requests.get(url, timeout=2)
    except requests.RequestException:
        return False
    return resp.status_code == 200 and resp.json() not in ("", None)


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    tmp = tmp_path_factory.mktemp("consul-diff")
    yurt = CatalogProcess(tmp).start()
    try:
        with real_consul(tmp) as consul:
            yield yurt.url, consul
    finally:
        yurt.proc.stop()


def _each(both: tuple[str, str], method: str, path: str, **kw: Any) -> list[requests.Response]:
    return [requests.request(method, u + path, timeout=10, **kw) for u in both]


SCRIPT = {"Name": "s", "Args": ["true"], "Interval": "10s"}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", "/v1/agent/force-leave/nonode", None),
        ("DELETE", "/v1/operator/raft/peer", None),
        ("DELETE", "/v1/operator/raft/peer?address=1.2.3.4:8300", None),
        ("GET", "/v1/agent/monitor?loglevel=bogus", None),
        # script checks are off by default, with Consul's text
        ("PUT", "/v1/agent/check/register", SCRIPT),
        ("PUT", "/v1/catalog/deregister", {"Datacenter": "dc2", "Node": "x"}),
        ("GET", "/v1/config/bogus-kind", None),
        ("PUT", "/v1/config", {"Kind": "service-defaults", "Name": "w", "Bogus": 1}),
        ("PUT", "/v1/event/fire/x?tag=a", None),
        ("PUT", "/v1/coordinate/update", {"Node": "x", "Coord": {"Vec": [0, 0], "Error": 1}}),
        ("GET", "/v1/coordinate/node/nope", None),
    ],
)
def test_refusals_say_what_consul_says(
    both: tuple[str, str], method: str, path: str, body: Obj | None
) -> None:
    ours, theirs = _each(both, method, path, json=body)
    assert (ours.status_code, ours.text.strip()) == (theirs.status_code, theirs.text.strip())


def test_event_shapes(both: tuple[str, str]) -> None:
    fired = [r.json() for r in _each(both, "PUT", "/v1/event/fire/deploy", data=b"v1")]
    assert set(fired[0]) == set(fired[1])
    assert fired[0]["Payload"] == fired[1]["Payload"] == "djE="
    lists = [r for r in _each(both, "GET", "/v1/event/list?name=deploy")]
    assert [set(e) for e in lists[0].json()] == [set(e) for e in lists[1].json()]
    assert all("X-Consul-Index" in r.headers for r in lists)


def test_operator_and_coordinate_shapes(both: tuple[str, str]) -> None:
    ours, theirs = (r.json() for r in _each(both, "GET", "/v1/operator/raft/configuration"))
    assert set(ours) == set(theirs)
    (mine,), (real,) = ours["Servers"], theirs["Servers"]
    assert set(mine) == set(real)
    assert {k: mine[k] for k in ("Leader", "Voter", "ProtocolVersion")} == {
        k: real[k] for k in ("Leader", "Voter", "ProtocolVersion")
    }
    ours, theirs = (r.json() for r in _each(both, "GET", "/v1/operator/autopilot/configuration"))
    assert {k: v for k, v in ours.items() if "Index" not in k} == {
        k: v for k, v in theirs.items() if "Index" not in k
    }
    for path in ("/v1/operator/autopilot/health", "/v1/operator/autopilot/state"):
        ours, theirs = (r.json() for r in _each(both, "GET", path))
        assert set(ours) == set(theirs), path
    # Consul's agent sends its first coordinate some seconds after start
    wait_for(
        lambda: bool(requests.get(both[1] + "/v1/coordinate/nodes", timeout=5).json()),
        60,
        "the real Consul's first coordinate",
    )
    ours, theirs = (r.json() for r in _each(both, "GET", "/v1/coordinate/nodes"))
    assert [set(n) for n in ours] == [set(n) for n in theirs]
    assert ours[0]["Coord"] == theirs[0]["Coord"]


def test_agent_shapes(both: tuple[str, str]) -> None:
    ours, theirs = (r.json() for r in _each(both, "GET", "/v1/agent/self"))
    assert set(ours["Stats"]["consul"]) == set(theirs["Stats"]["consul"])
    ours, theirs = (r.json() for r in _each(both, "GET", "/v1/agent/members?wan=1"))
    assert [m["Name"].endswith(".dc1") for m in ours] == [True]
    assert [m["Name"].endswith(".dc1") for m in theirs] == [True]
    ours, theirs = (r.json() for r in _each(both, "GET", "/v1/agent/metrics"))
    assert set(ours) == set(theirs)


def test_kv_and_tagged_address_shapes(both: tuple[str, str]) -> None:
    _each(both, "PUT", "/v1/kv/empty", data=b"")
    ours, theirs = (r.json() for r in _each(both, "GET", "/v1/kv/empty"))
    assert ours[0]["Value"] is theirs[0]["Value"] is None
    tagged = {"lan": {"Address": "10.0.0.1", "Port": 81}, "wan": {"address": "1.2.3.4"}}
    body = {"Name": "ta", "Port": 80, "TaggedAddresses": tagged}
    _each(both, "PUT", "/v1/agent/service/register", json=body)
    ours, theirs = (r.json() for r in _each(both, "GET", "/v1/catalog/service/ta"))
    assert ours[0]["ServiceTaggedAddresses"] == theirs[0]["ServiceTaggedAddresses"]


def test_config_entry_and_connect_shapes(both: tuple[str, str]) -> None:
    entry = {"Kind": "service-defaults", "Name": "web", "Protocol": "http"}
    for r in _each(both, "PUT", "/v1/config", json=entry):
        assert r.json() is True
    ours, theirs = (r.json() for r in _each(both, "GET", "/v1/config/service-defaults/web"))
    assert {k: v for k, v in ours.items() if "Index" not in k} == {
        k: v for k, v in theirs.items() if "Index" not in k
    }
    web = {"Name": "web", "Port": 8080, "Connect": {"SidecarService": {}}}
    _each(both, "PUT", "/v1/agent/service/register", json=web)
    ours, theirs = (r.json() for r in _each(both, "GET", "/v1/catalog/connect/web"))
    assert [p["ServiceID"] for p in ours] == [p["ServiceID"] for p in theirs]
    assert ours[0]["ServicePort"] == theirs[0]["ServicePort"] == 21000
    assert ours[0]["ServiceProxy"]["DestinationServiceName"] == "web"
    ours, theirs = (r.json() for r in _each(both, "GET", "/v1/discovery-chain/web"))
    mine, real = ours["Chain"], theirs["Chain"]
    assert set(mine) == set(real)
    assert mine["StartNode"] == real["StartNode"] and mine["Protocol"] == real["Protocol"]
    assert set(mine["Nodes"]) == set(real["Nodes"])

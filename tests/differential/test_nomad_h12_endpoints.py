"""The same requests to yurt's scheduler and to the real Nomad (1.1.2, from
`../shared/reference`, run in a network namespace of its own), compared by shape: Raft and
Autopilot, scaling policies, fuzzy search, the event stream's frames, and the texts of the
agent and deployment refusals. Skipped when the reference binaries are absent; never the
only test of these endpoints (see tests/scheduler/test_events*.py, test_operator.py, ...)."""

from __future__ import annotations

import contextlib
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.scheduler.conftest import SchedulerProcess
from tests.scheduler.simnode import SimNode
from tests.support.netns import peer_host
from tests.support.process import wait_for

Obj = dict[str, Any]

REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference"
NOMAD = REFERENCE / "nomad"

pytestmark = [
    pytest.mark.process,
    pytest.mark.skipif(not NOMAD.exists(), reason="no reference binaries"),
]

JOB: Obj = {
    "ID": "web",
    "Name": "web",
    "Type": "service",
    "Datacenters": ["dc1"],
    "TaskGroups": [
        {
            "Name": "g",
            "Count": 1,
            "Scaling": {"Enabled": True, "Min": 1, "Max": 3, "Policy": {"cooldown": "1m"}},
            "Tasks": [
                {
                    "Name": "t",
                    "Driver": "raw_exec",
                    "Config": {"command": "/bin/sleep", "args": ["600"]},
                }
            ],
        }
    ],
}


@contextlib.contextmanager
def real_nomad(tmp: Path) -> Iterator[str]:
    with peer_host() as peer:
        log = (tmp / "nomad.log").open("w")
        proc = subprocess.Popen(
            [
                *peer.exec_prefix,
                str(NOMAD),
                "agent",
                "-dev",
                "-bind",
                peer.ip,
                "-data-dir",
                str(tmp / "nomad-data"),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://{peer.ip}:4646"
        try:
            wait_for(lambda: _ok(url + "/v1/nodes"), 30, "the real Nomad and its node")
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()


def _ok(url: str) -> bool:
    try:
        resp = requests.get(url, timeout=2)
    except requests.RequestException:
        return False
    return resp.status_code == 200 and bool(resp.json())


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    tmp = tmp_path_factory.mktemp("diff")
    yurt = SchedulerProcess(tmp).start()
    node = SimNode(yurt.url, "sim-1")
    node.register()
    node.start_heartbeats()
    try:
        with real_nomad(tmp) as nomad:
            yield yurt.url, nomad
    finally:
        node.stop_heartbeats()
        yurt.proc.stop()


def _first_event(url: str, topic: str) -> Obj:
    """Subscribe to `topic`, register JOB, and return the first frame with events."""
    with requests.get(
        url + "/v1/event/stream", params={"topic": topic}, stream=True, timeout=20
    ) as resp:
        assert resp.status_code == 200
        lines = resp.iter_lines()
        assert json.loads(next(lines)) == {}
        reg = requests.put(url + "/v1/jobs", json={"Job": JOB}, timeout=10)
        assert reg.status_code == 200, reg.text
        for line in lines:
            frame = json.loads(line)
            if frame:
                return dict(frame)
    raise AssertionError("no event")


def test_event_frames_have_nomads_shape(both: tuple[str, str]) -> None:
    frames = [_first_event(url, "Job:web") for url in both]
    ours, theirs = frames
    assert set(ours) == set(theirs) == {"Index", "Events"}
    (mine,), (real,) = ours["Events"], theirs["Events"]
    assert set(mine) == set(real)
    for key in ("Topic", "Type", "Key", "Namespace", "FilterKeys"):
        assert mine[key] == real[key], key
    assert set(mine["Payload"]) == set(real["Payload"]) == {"Job"}


def test_operator_shapes(both: tuple[str, str]) -> None:
    ours, theirs = (requests.get(u + "/v1/operator/raft/configuration", timeout=10) for u in both)
    (mine,), (real,) = ours.json()["Servers"], theirs.json()["Servers"]
    assert set(mine) == set(real) and mine["Leader"] and mine["Voter"]
    url = "/v1/operator/autopilot/configuration"
    ours, theirs = (requests.get(u + url, timeout=10).json() for u in both)
    assert set(ours) == set(theirs)
    assert {k: ours[k] for k in ours if "Index" not in k} == {
        k: theirs[k] for k in theirs if "Index" not in k
    }
    for u in both:
        assert requests.put(u + url, json=ours, params={"cas": "0"}, timeout=10).json() is False


def test_scaling_and_fuzzy_shapes(both: tuple[str, str]) -> None:
    for u in both:
        requests.put(u + "/v1/jobs", json={"Job": JOB}, timeout=10).raise_for_status()
    ours, theirs = (requests.get(u + "/v1/scaling/policies", timeout=10).json() for u in both)
    assert [set(p) for p in ours] == [set(p) for p in theirs]
    assert [p["Target"] for p in ours] == [p["Target"] for p in theirs]
    full = [
        requests.get(u + f"/v1/scaling/policy/{lst[0]['ID']}", timeout=10).json()
        for u, lst in zip(both, (ours, theirs), strict=True)
    ]
    assert set(full[0]) == set(full[1])
    assert {k: full[0][k] for k in ("Min", "Max", "Policy", "Type")} == {
        k: full[1][k] for k in ("Min", "Max", "Policy", "Type")
    }
    body = {"Text": "we", "Context": "jobs"}
    ours, theirs = (
        requests.post(u + "/v1/search/fuzzy", json=body, timeout=10).json() for u in both
    )
    assert ours["Matches"]["jobs"] == theirs["Matches"]["jobs"]
    for text in ("w", ""):
        mine, real = (
            requests.post(u + "/v1/search/fuzzy", json={"Text": text}, timeout=10) for u in both
        )
        assert (mine.status_code, mine.text) == (real.status_code, real.text)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", "/v1/agent/join", None),
        ("PUT", "/v1/agent/force-leave", None),
        ("PUT", "/v1/deployment/unblock/x", {}),
        ("PUT", "/v1/deployment/unblock/x", {"DeploymentID": "y"}),
        ("PUT", "/v1/deployment/allocation-health/x", {}),
        ("GET", "/v1/scaling/policy/nope", None),
        ("GET", "/v1/event/stream?topic=Job:a:b", None),
        ("GET", "/v1/event/stream?index=abc", None),
    ],
)
def test_refusals_say_what_nomad_says(
    both: tuple[str, str], method: str, path: str, body: Obj | None
) -> None:
    ours, theirs = (requests.request(method, u + path, json=body, timeout=10) for u in both)
    assert (ours.status_code, ours.text) == (theirs.status_code, theirs.text)


def test_the_real_cli_lists_yurts_raft_peers(both: tuple[str, str]) -> None:
    yurt, _ = both
    out = subprocess.run(
        [str(NOMAD), "operator", "raft", "list-peers", "-address", yurt],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    header, row = out.stdout.strip().splitlines()
    assert header.split() == ["Node", "ID", "Address", "State", "Voter", "RaftProtocol"]
    assert row.split()[3:] == ["leader", "true", "3"]

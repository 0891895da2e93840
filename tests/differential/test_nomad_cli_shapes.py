"""The real `nomad` CLI (1.1.2, from `../shared/reference`) against a `yurt up` agent and
against the real Nomad agent: `node status <id>`, `node status -self` and `job validate`
print the same fields and sections for both. Skipped when the reference binaries are
absent; tests/cli/test_up_agent.py checks the same shapes over HTTP without them."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.cli.up_agent import yurt_up
from tests.differential.test_nomad_h12_endpoints import NOMAD, real_nomad

pytestmark = [
    pytest.mark.process,
    pytest.mark.skipif(not NOMAD.exists(), reason="no reference binaries"),
]

JOB = """job "v" {
  datacenters = ["dc1"]
  group "g" {
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/sleep"
        args    = ["1"]
      }
    }
  }
}
"""


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    tmp = tmp_path_factory.mktemp("cli")
    (tmp / "yurt").mkdir()
    with yurt_up(tmp / "yurt") as up, real_nomad(tmp) as nomad:
        yield up.url, nomad


def _nomad(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NOMAD_ADDR": url}
    return subprocess.run([str(NOMAD), *args], capture_output=True, text=True, timeout=60, env=env)


def _shape(text: str) -> tuple[list[str], list[str]]:
    """The `Key = value` keys and the section titles (a line followed by a header line)."""
    lines = text.splitlines()
    keys = [line.partition(" = ")[0].strip() for line in lines if " = " in line]
    titles = [
        line
        for i, line in enumerate(lines[:-1])
        if line and " = " not in line and (i == 0 or not lines[i - 1])
    ]
    return keys, titles


def _node_id(url: str) -> str:
    return str(requests.get(url + "/v1/nodes", timeout=10).json()[0]["ID"])


@pytest.mark.parametrize("by", ["id", "self"])
def test_node_status_prints_what_the_real_agent_makes_it_print(
    both: tuple[str, str], by: str
) -> None:
    outputs = []
    for url in both:
        target = _node_id(url) if by == "id" else "-self"
        out = _nomad(url, "node", "status", target)
        assert out.returncode == 0, out.stderr
        outputs.append(out.stdout)
    ours, theirs = (_shape(text) for text in outputs)
    assert ours == theirs
    keys, titles = ours
    assert {"ID", "Drain", "Eligibility", "Driver Status"} <= set(keys)
    assert {"Node Events", "Allocated Resources", "Host Resource Utilization"} <= set(titles)


def test_job_validate_prints_what_the_real_agent_makes_it_print(
    both: tuple[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "v.nomad"
    path.write_text(JOB)
    ours, theirs = (_nomad(url, "job", "validate", str(path)) for url in both)
    assert (ours.returncode, ours.stdout, ours.stderr) == (
        theirs.returncode,
        theirs.stdout,
        theirs.stderr,
    )

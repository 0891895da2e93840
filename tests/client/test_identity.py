"""A task's `identity { env = true, file = true }`: the workload identity reaches the task
in `NOMAD_TOKEN` and `secrets/nomad_token`, and is what lets the task read its own job's
variables under ACLs (a `yurt up -acl-enabled` agent, a real raw_exec task)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.cli.up_agent import UpAgent, yurt_up
from tests.support.process import wait_for
from yurt.client.identity import token_path, wanted

JOB = """job "ident" {
  datacenters = ["*"]
  type        = "batch"
  group "g" {
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "printf %s \\"$NOMAD_TOKEN\\" > local/env_token; sleep 600"]
      }
      identity {
        env  = true
        file = true
      }
      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}
"""


@pytest.mark.parametrize(
    ("identity", "want"),
    [
        (None, (False, False, "")),
        ({"Env": True}, (True, False, "")),
        ({"Env": False, "File": True, "Filepath": "local/t.jwt"}, (False, True, "local/t.jwt")),
    ],
)
def test_what_the_task_asks_for(identity: dict[str, object] | None, want: object) -> None:
    assert wanted({"Identity": identity}) == want


def test_the_token_file_stays_in_the_task_directory(tmp_path: Path) -> None:
    assert token_path(tmp_path, "") == tmp_path / "secrets" / "nomad_token"
    assert token_path(tmp_path, "local/id.jwt") == (tmp_path / "local" / "id.jwt").resolve()
    with pytest.raises(ValueError, match="outside the task directory"):
        token_path(tmp_path, "../../etc/x")


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpAgent]:
    with yurt_up(tmp_path_factory.mktemp("ident"), "-acl-enabled") as up:
        yield up


def test_the_task_gets_its_identity_and_reads_its_own_variables(agent: UpAgent) -> None:
    up = agent
    admin = {"X-Nomad-Token": up.token}
    for path in ("nomad/jobs/ident", "nomad/jobs/other"):
        r = requests.put(f"{up.url}/v1/var/{path}", json={"Items": {"k": path}}, headers=admin)
        assert r.status_code == 200, r.text
    job = requests.post(
        up.url + "/v1/jobs/parse", json={"JobHCL": JOB}, headers=admin, timeout=10
    ).json()
    r = requests.post(up.url + "/v1/jobs", json={"Job": job}, headers=admin, timeout=10)
    assert r.status_code == 200, r.text

    def cat(alloc: str, path: str) -> str:
        got = requests.get(
            f"{up.url}/v1/client/fs/cat/{alloc}", params={"path": path}, headers=admin, timeout=10
        )
        return got.text if got.status_code == 200 else ""

    def alloc_with_token() -> str:
        allocs = requests.get(up.url + "/v1/job/ident/allocations", headers=admin).json()
        running = [a["ID"] for a in allocs if a["ClientStatus"] == "running"]
        return running[0] if running and cat(running[0], "t/local/env_token") else ""

    alloc = wait_for(alloc_with_token, 60, "the task to write its token")
    from_env = cat(alloc, "t/local/env_token")
    from_file = cat(alloc, "t/secrets/nomad_token")
    assert from_env == from_file and from_env.startswith("wi.")
    task = {"X-Nomad-Token": from_file}
    own = requests.get(f"{up.url}/v1/var/nomad/jobs/ident", headers=task, timeout=10)
    assert own.status_code == 200 and own.json()["Items"] == {"k": "nomad/jobs/ident"}
    other = requests.get(f"{up.url}/v1/var/nomad/jobs/other", headers=task, timeout=10)
    assert other.status_code == 403
    requests.delete(f"{up.url}/v1/job/ident?purge=true", headers=admin, timeout=10)

"""`yurt acl ...` against a real scheduler with ACLs on, and `-token`/NOMAD_TOKEN on the
other Nomad-style commands."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.scheduler.conftest import SchedulerProcess

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def sched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SchedulerProcess]:
    proc = SchedulerProcess(tmp_path_factory.mktemp("acl-cli"), "-acl-enabled").start()
    try:
        yield proc
    finally:
        proc.proc.stop()


def yurt(
    sched: SchedulerProcess, *args: str, token: str = "", ok: bool = True, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "NOMAD_TOKEN"}
    env["NOMAD_ADDR"] = sched.url
    if token:
        env["NOMAD_TOKEN"] = token
    proc = subprocess.run(
        [sys.executable, "-m", "yurt", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=60,
        input=stdin,
    )
    if ok:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def _field(out: str, name: str) -> str:
    for line in out.splitlines():
        key, _, value = line.partition("=")
        if key.strip() == name:
            return value.strip()
    raise AssertionError(f"{name} not in {out!r}")


@pytest.fixture(scope="module")
def root(sched: SchedulerProcess) -> str:
    out = yurt(sched, "acl", "bootstrap").stdout
    assert _field(out, "Name") == "Bootstrap Token"
    assert _field(out, "Type") == "management"
    assert _field(out, "Policies") == "n/a"
    assert _field(out, "Global") == "true"
    return _field(out, "Secret ID")


def test_bootstrap_twice_fails_as_nomad(sched: SchedulerProcess, root: str) -> None:
    again = yurt(sched, "acl", "bootstrap", ok=False)
    assert again.returncode == 1
    assert (
        "Unexpected response code: 400 (ACL bootstrap already done (reset index: " in again.stderr
    )


def test_policy_apply_list_info_delete(sched: SchedulerProcess, root: str, tmp_path: Path) -> None:
    rules = tmp_path / "ro.hcl"
    rules.write_text('namespace "default" {\n  policy = "read"\n}\n')
    out = yurt(
        sched, "acl", "policy", "apply", "-description", "read only", "ro", str(rules), token=root
    )
    assert out.stdout.strip() == 'Successfully wrote "ro" ACL policy!'
    listed = yurt(sched, "acl", "policy", "list", token=root).stdout.splitlines()
    assert listed[0].split() == ["Name", "Description"]
    assert listed[1].split() == ["ro", "read", "only"]
    info = yurt(sched, "acl", "policy", "info", "ro", token=root).stdout
    assert _field(info, "Description") == "read only"
    assert 'Rules       = namespace "default" {' in info
    bad = tmp_path / "bad.hcl"
    bad.write_text('namespace "default" { policy = "x" }\n')
    failed = yurt(sched, "acl", "policy", "apply", "bad", str(bad), token=root, ok=False)
    assert failed.returncode == 1
    assert failed.stderr.startswith("Error writing ACL policy: Unexpected response code: 400")
    assert "Invalid namespace policy" in failed.stderr
    missing = yurt(sched, "acl", "policy", "apply", "x", "/nonexistent.hcl", token=root, ok=False)
    assert (
        missing.stderr.strip()
        == "Failed to read file: open /nonexistent.hcl: no such file or directory"
    )
    from_stdin = yurt(
        sched, "acl", "policy", "apply", "tmp", "-", token=root, stdin='node { policy = "read" }'
    )
    assert "tmp" in from_stdin.stdout
    deleted = yurt(sched, "acl", "policy", "delete", "tmp", token=root).stdout
    assert deleted.strip() == "Successfully deleted tmp policy!"


def test_tokens_and_the_token_flag(sched: SchedulerProcess, root: str, tmp_path: Path) -> None:
    rules = tmp_path / "jobs.hcl"
    rules.write_text('namespace "default" { policy = "read" }\n')
    yurt(sched, "acl", "policy", "apply", "jobs-ro", str(rules), token=root)
    made = yurt(
        sched,
        "acl",
        "token",
        "create",
        "-name",
        "ci",
        "-policy",
        "jobs-ro",
        "-ttl",
        "1h",
        token=root,
    ).stdout
    accessor, secret = _field(made, "Accessor ID"), _field(made, "Secret ID")
    assert _field(made, "Policies") == "[jobs-ro]" and _field(made, "Type") == "client"
    assert _field(made, "Expiry Time").endswith("+0000 UTC")
    listed = yurt(sched, "acl", "token", "list", token=root).stdout
    assert listed.splitlines()[0].split() == ["Name", "Type", "Global", "Accessor", "ID", "Expired"]
    assert accessor in listed and "Bootstrap Token" in listed
    me = yurt(sched, "acl", "token", "self", token=secret).stdout
    assert _field(me, "Accessor ID") == accessor
    # -token wins over NOMAD_TOKEN
    flagged = yurt(sched, "acl", "token", "self", "-token", secret, token=root).stdout
    assert _field(flagged, "Name") == "ci"
    updated = yurt(sched, "acl", "token", "update", "-name", "ci2", accessor, token=root).stdout
    assert _field(updated, "Name") == "ci2"
    assert _field(yurt(sched, "acl", "token", "info", accessor, token=root).stdout, "Name") == "ci2"
    # the read-only token lists jobs but may not stop the scheduler's GC
    assert yurt(sched, "job", "status", "-token", secret).returncode == 0
    refused = yurt(sched, "system", "gc", "-token", secret, ok=False)
    assert refused.returncode == 1 and "403 (Permission denied)" in refused.stderr
    no_token = yurt(sched, "job", "status", ok=False)
    assert "403 (Permission denied)" in no_token.stderr
    deleted = yurt(sched, "acl", "token", "delete", accessor, token=root).stdout
    assert deleted.strip() == f"Token {accessor} successfully deleted"
    gone = yurt(sched, "job", "status", "-token", secret, ok=False)
    assert "403 (ACL token not found)" in gone.stderr

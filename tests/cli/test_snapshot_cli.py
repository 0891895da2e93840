"""`yurt snapshot save|restore|inspect` against a real catalog, and the real `consul`
1.10.11 CLI's `snapshot save|restore` and `operator raft list-peers` against the same
catalog (those skip only when `../shared/reference` is absent)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.catalog.conftest import CatalogProcess
from yurt.cli import main

CONSUL = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "consul"
needs_consul = pytest.mark.skipif(not CONSUL.exists(), reason="no reference consul binary")


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CatalogProcess]:
    proc = CatalogProcess(tmp_path_factory.mktemp("snapshot-cli")).start()
    try:
        yield proc
    finally:
        proc.proc.stop()


def run(catalog: CatalogProcess, *args: str) -> Result:
    env = {"CONSUL_HTTP_ADDR": f"127.0.0.1:{catalog.port}"}
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def consul(catalog: CatalogProcess, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CONSUL_HTTP_ADDR": f"127.0.0.1:{catalog.port}"}
    return subprocess.run(
        [str(CONSUL), *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_yurt_snapshot_save_restore_inspect(catalog: CatalogProcess, tmp_path: Path) -> None:
    catalog.put("/v1/kv/app/flag", data="on").raise_for_status()
    path = tmp_path / "backup.snap"
    r = run(catalog, "snapshot", "save", str(path))
    assert r.exit_code == 0, r.output
    assert r.output.startswith("Saved and verified snapshot to index ")
    catalog.delete("/v1/kv/app/flag").raise_for_status()
    r = run(catalog, "snapshot", "restore", str(path))
    assert (r.exit_code, r.output) == (0, "Restored snapshot\n")
    assert catalog.get("/v1/kv/app/flag?raw").text == "on"
    r = run(catalog, "snapshot", "inspect", str(path))
    assert r.exit_code == 0 and " kv " in r.output and "Index" in r.output
    bad = tmp_path / "bad.snap"
    bad.write_bytes(b"nope")
    r = run(catalog, "snapshot", "restore", str(bad))
    assert r.exit_code == 1 and "Error verifying snapshot file: " in r.output


@needs_consul
def test_real_consul_snapshot_save_and_restore(catalog: CatalogProcess, tmp_path: Path) -> None:
    catalog.put("/v1/kv/real/key", data="v").raise_for_status()
    path = tmp_path / "real.snap"
    got = consul(catalog, "snapshot", "save", str(path))
    # the real CLI verifies the envelope (hashes, no trailing bytes) before keeping the file
    assert got.returncode == 0, got.stderr
    assert got.stdout.startswith("Saved and verified snapshot to index ")
    catalog.delete("/v1/kv/real/key").raise_for_status()
    got = consul(catalog, "snapshot", "restore", str(path))
    assert (got.returncode, got.stdout) == (0, "Restored snapshot\n"), got.stderr
    assert catalog.get("/v1/kv/real/key?raw").text == "v"


@needs_consul
def test_real_consul_operator_raft_list_peers(catalog: CatalogProcess) -> None:
    got = consul(catalog, "operator", "raft", "list-peers")
    assert got.returncode == 0, got.stderr
    header, row = got.stdout.splitlines()
    assert header.split() == ["Node", "ID", "Address", "State", "Voter", "RaftProtocol"]
    node_id = catalog.get("/v1/agent/self").json()["Config"]["NodeID"]
    assert row.split() == ["node1", node_id, "127.0.0.1:8300", "leader", "true", "3"]


@needs_consul
def test_real_consul_operational_commands(catalog: CatalogProcess) -> None:
    got = consul(catalog, "members", "-wan")
    assert got.returncode == 0, got.stderr
    assert got.stdout.splitlines()[1].split()[:4] == [
        "node1.dc1",
        "127.0.0.1:8302",
        "alive",
        "server",
    ]
    got = consul(catalog, "event", "-name", "deploy", "payload")
    assert got.returncode == 0 and got.stdout.startswith("Event ID: "), got.stderr
    got = consul(catalog, "operator", "autopilot", "get-config")
    assert got.returncode == 0 and "CleanupDeadServers = true" in got.stdout, got.stderr
    got = consul(catalog, "keyring", "-list")
    assert got.returncode == 0 and "dc1 (LAN):" in got.stdout, got.stderr
    got = consul(catalog, "rtt", "node1")
    assert got.returncode == 0 and "node1 <-> node1 rtt" in got.stdout, got.stderr

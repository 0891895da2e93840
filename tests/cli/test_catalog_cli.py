"""`yurt kv`, `yurt services` and `yurt catalog services|nodes` against a real catalog."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.catalog.conftest import CatalogProcess
from yurt.cli import main


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CatalogProcess]:
    proc = CatalogProcess(tmp_path_factory.mktemp("catalog-cli")).start()
    try:
        yield proc
    finally:
        proc.proc.stop()


def run(catalog: CatalogProcess, *args: str, stdin: str | None = None) -> Result:
    runner = CliRunner()
    env = {"CONSUL_HTTP_ADDR": f"127.0.0.1:{catalog.port}"}
    return runner.invoke(main, list(args), env=env, input=stdin, catch_exceptions=False)


def test_kv_put_get_delete(catalog: CatalogProcess) -> None:
    r = run(catalog, "kv", "put", "redis/config/minconns", "1")
    assert (r.exit_code, r.output) == (0, "Success! Data written to: redis/config/minconns\n")
    r = run(catalog, "kv", "get", "redis/config/minconns")
    assert (r.exit_code, r.output) == (0, "1\n")
    r = run(catalog, "kv", "get", "-detailed", "redis/config/minconns")
    lines = r.output.splitlines()
    assert lines[0].startswith("CreateIndex      ")
    assert "Key              redis/config/minconns" in lines
    assert "Session          -" in lines
    assert lines[-1] == "Value            1"
    run(catalog, "kv", "put", "redis/config/maxconns", "25")
    r = run(catalog, "kv", "get", "-recurse", "redis/")
    assert r.output == "redis/config/maxconns:25\nredis/config/minconns:1\n"
    r = run(catalog, "kv", "get", "-keys", "redis/")
    assert r.output == "redis/config/\n"
    r = run(catalog, "kv", "delete", "redis/config/minconns")
    assert r.output == "Success! Deleted key: redis/config/minconns\n"
    r = run(catalog, "kv", "get", "redis/config/minconns")
    assert r.exit_code == 1
    assert "Error! No key exists at: redis/config/minconns" in r.output
    r = run(catalog, "kv", "delete", "-recurse", "redis")
    assert r.output == "Success! Deleted keys with prefix: redis\n"


def test_kv_put_from_stdin_file_and_cas(catalog: CatalogProcess, tmp_path: Path) -> None:
    r = run(catalog, "kv", "put", "fromstdin", "-", stdin="piped")
    assert r.exit_code == 0
    assert run(catalog, "kv", "get", "fromstdin").output == "piped\n"
    f = tmp_path / "v.txt"
    f.write_text("filed")
    run(catalog, "kv", "put", "fromfile", f"@{f}")
    assert run(catalog, "kv", "get", "fromfile").output == "filed\n"
    r = run(catalog, "kv", "put", "-cas", "-modify-index", "999999", "fromfile", "x")
    assert r.exit_code == 1
    assert "CAS failed" in r.output
    r = run(catalog, "kv", "put", "-flags", "5", "flagged", "y")
    assert r.exit_code == 0
    assert catalog.get("/v1/kv/flagged").json()[0]["Flags"] == 5


def test_services_register_list_deregister(catalog: CatalogProcess, tmp_path: Path) -> None:
    r = run(catalog, "services", "register", "-name", "web", "-port", "80", "-tag", "urlprefix-/")
    assert (r.exit_code, r.output) == (0, "Registered service: web\n")
    definition = tmp_path / "db.json"
    definition.write_text('{"service": {"name": "db", "port": 5432, "tags": ["primary"]}}')
    r = run(catalog, "services", "register", str(definition))
    assert r.output == "Registered service: db\n"
    r = run(catalog, "services")
    assert r.output == "consul\ndb\nweb\n"
    r = run(catalog, "catalog", "services", "-tags")
    assert r.output.splitlines() == ["consul", "db      primary", "web     urlprefix-/"]
    r = run(catalog, "catalog", "services", "-health")
    lines = r.output.splitlines()
    assert lines[0].split() == ["Service", "ID", "Node", "Address", "Health", "Tags"]
    assert any(line.split()[:2] == ["web", "web"] for line in lines)
    r = run(catalog, "catalog", "nodes")
    assert r.output.splitlines()[0].split() == ["Node", "ID", "Address", "DC"]
    assert r.output.splitlines()[1].startswith("node1")
    assert run(catalog, "catalog", "datacenters").output == "dc1\n"
    r = run(catalog, "catalog", "nodes", "-service", "web")
    assert [line.split()[0] for line in r.output.splitlines()] == ["Node", "node1"]
    r = run(catalog, "catalog", "services", "-node", "node1")
    assert r.output == "consul\ndb\nweb\n"
    r = run(catalog, "catalog", "services", "-node", "nowhere")
    assert r.exit_code == 1
    assert "No node found" in r.output
    r = run(catalog, "services", "deregister", "-id", "web")
    assert r.output == "Deregistered service: web\n"
    r = run(catalog, "services", "deregister", str(definition))
    assert r.output == "Deregistered service: db\n"
    assert run(catalog, "services").output == "consul\n"


def test_unreachable_catalog_says_where() -> None:
    runner = CliRunner()
    r = runner.invoke(main, ["kv", "get", "x"], env={"CONSUL_HTTP_ADDR": "127.0.0.1:1"})
    assert r.exit_code != 0
    assert "127.0.0.1:1" in r.output


def test_kv_export_import(catalog: CatalogProcess, tmp_path: Path) -> None:
    run(catalog, "kv", "put", "-flags", "3", "exp/a", "one")
    run(catalog, "kv", "put", "exp/b/c", "two")
    r = run(catalog, "kv", "export", "exp/")
    assert r.exit_code == 0
    dump = tmp_path / "dump.json"
    dump.write_text(r.output)
    r = run(catalog, "kv", "import", "-prefix", "copy/", f"@{dump}")
    assert r.output == "Imported: copy/exp/a\nImported: copy/exp/b/c\n"
    assert run(catalog, "kv", "get", "copy/exp/b/c").output == "two\n"
    assert catalog.get("/v1/kv/copy/exp/a").json()[0]["Flags"] == 3
    r = run(catalog, "kv", "import", "-", stdin="[{")
    assert r.exit_code != 0
    assert "Failed to decode data" in r.output

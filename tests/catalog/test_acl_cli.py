"""`yurt catalog acl ...` (as `consul acl ...`) and the token options of the consul-style
commands, against a real catalog with ACLs on."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.catalog.conftest import ROOT_TOKEN, CatalogProcess
from yurt.cli import main


@pytest.fixture
def run(acl_catalog: CatalogProcess, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CONSUL_HTTP_ADDR", acl_catalog.url)
    monkeypatch.setenv("CONSUL_HTTP_TOKEN", ROOT_TOKEN)
    monkeypatch.delenv("CONSUL_HTTP_TOKEN_FILE", raising=False)

    def invoke(*args: str, ok: bool = True) -> Result:
        result = CliRunner().invoke(main, list(args))
        if ok:
            assert result.exit_code == 0, result.output
        return result

    return invoke


def _value(output: str, label: str) -> str:
    match = re.search(rf"^{label}:\s+(\S+)$", output, re.M)
    assert match, output
    return match.group(1)


def test_policy_commands(run) -> None:  # type: ignore[no-untyped-def]
    created = run(
        "catalog",
        "acl",
        "policy",
        "create",
        "-name",
        "cli-kv",
        "-description",
        "kv",
        "-rules",
        'key_prefix "cli/" { policy = "write" }',
    ).output
    pid = _value(created, "ID")
    assert 'Rules:\nkey_prefix "cli/" { policy = "write" }' in created
    listed = run("catalog", "acl", "policy", "list").output
    assert f"cli-kv:\n   ID:           {pid}\n   Description:  kv" in listed
    assert "global-management:" in listed
    updated = run("catalog", "acl", "policy", "update", "-name", "cli-kv", "-description", "new")
    assert "Description:  new" in updated.output and 'key_prefix "cli/"' in updated.output
    assert _value(run("catalog", "acl", "policy", "read", "-id", pid[:8]).output, "ID") == pid
    deleted = run("catalog", "acl", "policy", "delete", "-id", pid).output
    assert deleted.strip() == f'Policy "{pid}" deleted successfully'


def test_token_and_role_commands(run, acl_catalog: CatalogProcess) -> None:  # type: ignore[no-untyped-def]
    run(
        "catalog",
        "acl",
        "policy",
        "create",
        "-name",
        "cli-tok",
        "-rules",
        'key "k" { policy = "read" }',
    )
    role = run(
        "catalog",
        "acl",
        "role",
        "create",
        "-name",
        "cli-role",
        "-policy-name",
        "cli-tok",
        "-service-identity",
        "web",
    ).output
    assert "Service Identities:\n   web (Datacenters: all)" in role
    # as the consul CLI (GetRoleIDFromPartial), -id takes a unique prefix of a role's ID
    role_id = _value(role, "ID")
    assert _value(run("catalog", "acl", "role", "read", "-id", role_id[:8]).output, "ID") == role_id
    assert "cli-role:" in run("catalog", "acl", "role", "list").output
    created = run(
        "catalog",
        "acl",
        "token",
        "create",
        "-description",
        "from the cli",
        "-policy-name",
        "cli-tok",
        "-role-name",
        "cli-role",
        "-node-identity",
        "n1:dc1",
    ).output
    accessor, secret = _value(created, "AccessorID"), _value(created, "SecretID")
    assert "Node Identities:\n   n1 (Datacenter: dc1)" in created
    assert re.search(r"Roles:\n   \S+ - cli-role", created)
    own = run("catalog", "acl", "token", "read", "-self", "-token", secret).output
    assert _value(own, "AccessorID") == accessor
    assert "Legacy:           false" in run("catalog", "acl", "token", "list").output
    clone = run("catalog", "acl", "token", "clone", "-id", accessor[:8], "-description", "c").output
    assert _value(clone, "AccessorID") != accessor
    updated = run(
        "catalog", "acl", "token", "update", "-id", accessor, "-description", "bare"
    ).output
    assert "Policies:" not in updated
    assert run("catalog", "acl", "token", "delete", "-id", accessor).output.strip() == (
        f'Token "{accessor}" deleted successfully'
    )
    assert (
        "deleted successfully"
        in run("catalog", "acl", "role", "delete", "-name", "cli-role").output
    )
    missing = run("catalog", "acl", "token", "read", "-id", "nonexist", ok=False)
    assert missing.exit_code == 1
    assert "No such token ID with prefix: nonexist" in missing.output
    bootstrap = run("catalog", "acl", "bootstrap", ok=False)
    assert "ACL bootstrap no longer allowed" in bootstrap.output


def test_token_flags_of_the_kv_and_catalog_commands(
    run,
    acl_catalog: CatalogProcess,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    monkeypatch.setenv("CONSUL_HTTP_TOKEN", "")
    refused = run("kv", "put", "cli/flag", "v", ok=False)
    assert refused.exit_code == 1
    assert "403" in refused.output and "lacks permission 'key:write'" in refused.output
    run("kv", "put", "-token", ROOT_TOKEN, "cli/flag", "v")
    token_file = tmp_path / "token"
    token_file.write_text(ROOT_TOKEN + "\n")
    assert run("kv", "get", "-token-file", str(token_file), "cli/flag").output.strip() == "v"
    monkeypatch.setenv("CONSUL_HTTP_TOKEN_FILE", str(token_file))
    assert run("kv", "get", "cli/flag").output.strip() == "v"
    assert "consul" in run("catalog", "services").output
    monkeypatch.delenv("CONSUL_HTTP_TOKEN_FILE")
    # without a token the anonymous token sees no service at all
    assert "consul" not in run("catalog", "services", ok=False).output
    assert "consul" in run("services", "-token", ROOT_TOKEN).output

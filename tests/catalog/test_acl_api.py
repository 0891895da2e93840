"""`/v1/acl/*` and `/v1/agent/token/*` with py-consul's ACL API as the client, against a real
catalog with ACLs on."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import consul
import pytest

from tests.catalog.conftest import ROOT_TOKEN, CatalogProcess

GLOBAL_MANAGEMENT = "00000000-0000-0000-0000-000000000001"
ANONYMOUS = "00000000-0000-0000-0000-000000000002"


def _client(proc: CatalogProcess, token: str | None = None) -> consul.Consul:
    return consul.Consul(host="127.0.0.1", port=proc.port, token=token, connections_timeout=30)


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[CatalogProcess]:
    """A catalog with ACLs on and nothing configured: the bootstrap is still to be done."""
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "acl.json").write_text(json.dumps({"acl": {"enabled": True, "default_policy": "deny"}}))
    proc = CatalogProcess(tmp_path, "-config-dir", str(conf)).start()
    try:
        yield proc
    finally:
        proc.proc.stop()


def test_bootstrap_once_then_403_until_reset(fresh: CatalogProcess) -> None:
    anon = _client(fresh)
    token = anon.acl.bootstrap()
    assert token["Description"] == "Bootstrap Token (Global Management)"
    assert token["Policies"] == [{"ID": GLOBAL_MANAGEMENT, "Name": "global-management"}]
    mgmt = _client(fresh, token["SecretID"])
    assert mgmt.acl.token.read_self()["AccessorID"] == token["AccessorID"]
    again = fresh.put("/v1/acl/bootstrap")
    assert again.status_code == 403
    reset_index = token["CreateIndex"]
    assert again.text == (
        f"Permission denied: ACL bootstrap no longer allowed (reset index: {reset_index})"
    )
    # a wrong index in the reset file changes nothing; the right one allows one more
    (fresh.data_dir / "acl-bootstrap-reset").write_text("999999")
    assert fresh.put("/v1/acl/bootstrap").status_code == 403
    (fresh.data_dir / "acl-bootstrap-reset").write_text(str(reset_index))
    second = anon.acl.bootstrap()
    assert second["SecretID"] != token["SecretID"]
    assert not (fresh.data_dir / "acl-bootstrap-reset").exists()
    assert fresh.put("/v1/acl/bootstrap").status_code == 403


def test_acl_state_survives_a_restart(fresh: CatalogProcess) -> None:
    token = _client(fresh).acl.bootstrap()
    mgmt = _client(fresh, token["SecretID"])
    policy = mgmt.acl.policy.create("keep", rules={"key_prefix": {"k/": {"policy": "read"}}})
    reader = mgmt.acl.token.create(policies_id=[policy["ID"]], description="reader")
    index = int(
        fresh.get("/v1/acl/policies", headers={"X-Consul-Token": token["SecretID"]}).headers[
            "X-Consul-Index"
        ]
    )
    fresh.proc.stop()
    fresh.start()
    mgmt = _client(fresh, token["SecretID"])
    assert mgmt.acl.policy.read(policy["ID"])["Rules"] == policy["Rules"]
    assert mgmt.acl.token.read(reader["AccessorID"])["SecretID"] == reader["SecretID"]
    assert fresh.put("/v1/acl/bootstrap").status_code == 403
    mgmt.acl.policy.create("later")
    after = fresh.get("/v1/acl/policies", headers={"X-Consul-Token": token["SecretID"]})
    assert int(after.headers["X-Consul-Index"]) > index


def test_acls_disabled_answer_401(catalog: CatalogProcess) -> None:
    with pytest.raises(consul.ACLDisabled, match="ACL support disabled"):
        catalog.client().acl.policy.list()
    assert catalog.put("/v1/acl/bootstrap").status_code == 401
    assert catalog.put("/v1/agent/token/default", json={"Token": "x"}).status_code == 401
    # without ACLs every other endpoint ignores tokens, bogus or not
    ok = catalog.get("/v1/kv/?recurse", headers={"X-Consul-Token": "bogus"})
    assert ok.status_code in (200, 404)


def test_policy_crud(root: consul.Consul, acl_catalog: CatalogProcess) -> None:
    rules = 'key_prefix "app/" { policy = "read" }'
    created = root.acl.policy.create("app-read", description="reads app/", rules=None)
    assert created["Name"] == "app-read" and created["Rules"] == ""
    updated = root.acl.policy.update(created["ID"], "app-read", rules=None, description="x")
    assert updated["Description"] == "x"
    put = acl_catalog.put(
        f"/v1/acl/policy/{created['ID']}",
        headers={"X-Consul-Token": ROOT_TOKEN},
        json={"Name": "app-read", "Rules": rules},
    )
    assert put.status_code == 200 and put.json()["Rules"] == rules
    assert root.acl.policy.read(created["ID"])["Rules"] == rules
    by_name = acl_catalog.get(
        "/v1/acl/policy/name/app-read", headers={"X-Consul-Token": ROOT_TOKEN}
    )
    assert by_name.json()["ID"] == created["ID"]
    listed = {p["Name"]: p for p in root.acl.policy.list()}
    assert "Rules" not in listed["app-read"]
    assert listed["global-management"]["ID"] == GLOBAL_MANAGEMENT
    assert root.acl.policy.delete(created["ID"]) is True
    with pytest.raises(consul.ACLPermissionDenied, match="ACL not found"):
        root.acl.policy.read(created["ID"])


POLICY_ERRORS = [
    ({"Name": "bad name!"}, "Invalid Policy: invalid Name. Only alphanumeric characters"),
    ({"Name": "r", "Rules": 'key "a" { policy = "nope" }'}, 'Invalid key "a" policy "nope"'),
    ({"Name": "r", "Rules": 'service "a" { policy = "list" }'}, 'Invalid service "a" policy'),
    ({"Name": "r", "Rules": 'key "a" {\n  policy = '}, "Failed to parse ACL rules"),
    ({"Name": "global-management"}, 'A Policy with Name "global-management" already exists'),
]


@pytest.mark.parametrize(("body", "message"), POLICY_ERRORS)
def test_invalid_policies_are_400(
    acl_catalog: CatalogProcess, body: dict[str, str], message: str
) -> None:
    resp = acl_catalog.put("/v1/acl/policy", headers={"X-Consul-Token": ROOT_TOKEN}, json=body)
    assert resp.status_code == 400
    assert message in resp.text


def test_global_management_is_protected(acl_catalog: CatalogProcess) -> None:
    headers = {"X-Consul-Token": ROOT_TOKEN}
    resp = acl_catalog.delete(f"/v1/acl/policy/{GLOBAL_MANAGEMENT}", headers=headers)
    assert resp.status_code == 400
    assert resp.text == "Delete operation not permitted on the builtin global-management policy"
    resp = acl_catalog.put(
        f"/v1/acl/policy/{GLOBAL_MANAGEMENT}",
        headers=headers,
        json={"Name": "global-management", "Rules": 'key "a" { policy = "read" }'},
    )
    assert resp.status_code == 400 and "not permitted" in resp.text


def test_token_lifecycle(root: consul.Consul, acl_catalog: CatalogProcess) -> None:
    policy = root.acl.policy.create("tok-kv", rules={"key_prefix": {"t/": {"policy": "write"}}})
    token = root.acl.token.create(
        policies_name=["tok-kv"],
        description="kv writer",
        service_identities=[{"ServiceName": "web"}],
        node_identities=["n1:dc1"],
        templated_policies=[{"builtin/dns": {}}],
        expiration_ttl="1h",
    )
    assert token["Policies"] == [{"ID": policy["ID"], "Name": "tok-kv"}]
    assert token["ServiceIdentities"] == [{"ServiceName": "web"}]
    assert token["NodeIdentities"] == [{"NodeName": "n1", "Datacenter": "dc1"}]
    assert token["TemplatedPolicies"] == [{"TemplateName": "builtin/dns"}]
    assert token["ExpirationTime"] > token["CreateTime"]
    assert token["CreateIndex"] == token["ModifyIndex"] and token["Hash"]

    own = _client(acl_catalog, token["SecretID"])
    assert own.acl.token.read_self()["AccessorID"] == token["AccessorID"]
    assert own.kv.put("t/x", "1") is True

    read = root.acl.token.read(token["AccessorID"])
    assert read["SecretID"] == token["SecretID"]
    clone = root.acl.token.clone(token["AccessorID"], description="the clone")
    assert clone["AccessorID"] != token["AccessorID"] and clone["Description"] == "the clone"
    assert clone["ServiceIdentities"] == [{"ServiceName": "web"}]
    assert clone["ExpirationTime"] == token["ExpirationTime"]
    updated = root.acl.token.update(token["AccessorID"], description="now empty")
    assert updated["Description"] == "now empty" and "Policies" not in updated
    assert updated["CreateIndex"] == token["CreateIndex"] < updated["ModifyIndex"]
    with pytest.raises(consul.ACLPermissionDenied):
        own.kv.put("t/x", "2")  # PUT replaces: the policy link went away

    mine = root.acl.token.list(policy=GLOBAL_MANAGEMENT)
    assert [t["Description"] for t in mine] == ["Initial Management Token"]
    assert root.acl.token.delete(token["AccessorID"]) is True
    with pytest.raises(consul.ACLPermissionDenied, match="ACL not found"):
        own.acl.token.read_self()
    with pytest.raises(consul.ACLPermissionDenied, match="ACL not found"):
        root.acl.token.read(token["AccessorID"])


TOKEN_ERRORS = [
    ({"Policies": [{"Name": "nonexist"}]}, 'No such ACL policy with name "nonexist"'),
    ({"Policies": [{"ID": "11111111-0000-0000-0000-000000000001"}]}, "No such ACL policy with ID"),
    ({"Roles": [{"Name": "nope"}]}, 'No such ACL role with name "nope"'),
    ({"ExpirationTTL": "10s"}, "should be > than 1m0s"),
    ({"ExpirationTTL": "1h", "ExpirationTime": "2099-01-01T00:00:00Z"}, "cannot both be set"),
    ({"NodeIdentities": [{"NodeName": "n1"}]}, "missing the datacenter field"),
    ({"ServiceIdentities": [{"ServiceName": "Bad Name"}]}, "has an invalid name"),
    ({"TemplatedPolicies": [{"TemplateName": "builtin/service"}]}, "builtin/service"),
    ({"AccessorID": "not-a-uuid"}, "AccessorID is not a valid UUID"),
    ({"AccessorID": ANONYMOUS}, "AccessorID is already in use"),
]


@pytest.mark.parametrize(("body", "message"), TOKEN_ERRORS)
def test_invalid_tokens_are_400(
    acl_catalog: CatalogProcess, body: dict[str, object], message: str
) -> None:
    resp = acl_catalog.put("/v1/acl/token", headers={"X-Consul-Token": ROOT_TOKEN}, json=body)
    assert resp.status_code == 400, resp.text
    assert message in resp.text


def test_anonymous_and_own_token_cannot_be_deleted(acl_catalog: CatalogProcess) -> None:
    headers = {"X-Consul-Token": ROOT_TOKEN}
    resp = acl_catalog.delete(f"/v1/acl/token/{ANONYMOUS}", headers=headers)
    assert resp.status_code == 400
    assert resp.text == "Delete operation not permitted on the anonymous token"
    me = acl_catalog.get("/v1/acl/token/self", headers=headers).json()
    resp = acl_catalog.delete(f"/v1/acl/token/{me['AccessorID']}", headers=headers)
    assert resp.status_code == 400
    anon = acl_catalog.get(f"/v1/acl/token/{ANONYMOUS}", headers=headers).json()
    assert anon["SecretID"] == "anonymous" and anon["Description"] == "Anonymous Token"


def test_token_self_needs_a_real_token(acl_catalog: CatalogProcess) -> None:
    assert acl_catalog.get("/v1/acl/token/self").status_code == 403
    bogus = acl_catalog.get("/v1/acl/token/self", headers={"X-Consul-Token": "bogus"})
    assert (bogus.status_code, bogus.text) == (403, "ACL not found")
    # the three places a token is read from
    for kw in (
        {"headers": {"X-Consul-Token": ROOT_TOKEN}},
        {"headers": {"Authorization": f"Bearer {ROOT_TOKEN}"}},
        {"params": {"token": ROOT_TOKEN}},
    ):
        assert acl_catalog.get("/v1/acl/token/self", **kw).json()["SecretID"] == ROOT_TOKEN


def test_secrets_are_hidden_from_acl_readers(
    root: consul.Consul, acl_catalog: CatalogProcess
) -> None:
    root.acl.policy.create("acl-reader", rules={"acl": "read"})
    reader = root.acl.token.create(policies_name=["acl-reader"])
    client = _client(acl_catalog, reader["SecretID"])
    shown = {t["AccessorID"]: t["SecretID"] for t in client.acl.token.list()}
    assert set(shown.values()) == {"<hidden>"}
    with pytest.raises(consul.ACLPermissionDenied, match="lacks permission 'acl:write'"):
        client.acl.policy.create("nope")


def test_roles(root: consul.Consul, acl_catalog: CatalogProcess) -> None:
    policy = root.acl.policy.create("role-kv", rules={"key": {"r": {"policy": "write"}}})
    role = root.acl.role.create(
        "kv-role",
        description="writes r",
        policies_id=[policy["ID"]],
        service_identities=[{"ServiceName": "db"}],
    )
    assert role["Policies"] == [{"ID": policy["ID"], "Name": "role-kv"}]
    assert role["ServiceIdentities"] == [{"ServiceName": "db"}]
    assert root.acl.role.read_by_name("kv-role")["ID"] == role["ID"]
    assert [r["ID"] for r in root.acl.role.list(policy=policy["ID"])] == [role["ID"]]
    token = root.acl.token.create(roles_name=["kv-role"])
    assert token["Roles"] == [{"ID": role["ID"], "Name": "kv-role"}]
    user = _client(acl_catalog, token["SecretID"])
    assert user.kv.put("r", "v") is True
    assert root.acl.token.list(role=role["ID"])[0]["AccessorID"] == token["AccessorID"]
    renamed = root.acl.role.update(role["ID"], "kv-role-2", policies_id=[policy["ID"]])
    assert renamed["Name"] == "kv-role-2"
    assert root.acl.token.read(token["AccessorID"])["Roles"][0]["Name"] == "kv-role-2"
    dup = acl_catalog.put(
        "/v1/acl/role", headers={"X-Consul-Token": ROOT_TOKEN}, json={"Name": "kv-role-2"}
    )
    assert dup.status_code == 400 and 'A Role with Name "kv-role-2" already exists' in dup.text
    assert root.acl.role.delete(role["ID"]) is True
    with pytest.raises(consul.ACLPermissionDenied):
        user.kv.put("r", "w")


def test_templated_policies(root: consul.Consul, acl_catalog: CatalogProcess) -> None:
    listed = root.acl.templated_policy.list()
    assert set(listed) >= {
        "builtin/service",
        "builtin/node",
        "builtin/dns",
        "builtin/nomad-server",
        "builtin/nomad-client",
        "builtin/workload-identity",
        "builtin/api-gateway",
    }
    service = root.acl.templated_policy.read("builtin/service")
    assert service["TemplateName"] == "builtin/service" and '"required"' in service["Schema"]
    preview = root.acl.templated_policy.preview("builtin/service", {"Name": "api"})
    assert 'service "api"' in preview["Rules"]
    missing = acl_catalog.get(
        "/v1/acl/templated-policy/name/builtin/nope", headers={"X-Consul-Token": ROOT_TOKEN}
    )
    assert missing.status_code == 404
    token = root.acl.token.create(templated_policies=[{"builtin/service": {"Name": "api"}}])
    user = _client(acl_catalog, token["SecretID"])
    user.agent.service.register("api", service_id="api-1")
    with pytest.raises(consul.ACLPermissionDenied, match="'service:write' on \"other\""):
        user.agent.service.register("other")
    user.agent.service.deregister("api-1")


def test_agent_tokens(acl_catalog: CatalogProcess, root: consul.Consul) -> None:
    headers = {"X-Consul-Token": ROOT_TOKEN}
    bogus = acl_catalog.put("/v1/agent/token/bogus", headers=headers, json={"Token": "x"})
    assert (bogus.status_code, bogus.text) == (404, 'Token "bogus" is unknown')
    refused = acl_catalog.put("/v1/agent/token/default", json={"Token": "x"})
    assert refused.status_code == 403
    # the default token answers for requests without one
    root.acl.policy.create("default-kv", rules={"key": {"defaulted": {"policy": "read"}}})
    default = root.acl.token.create(policies_name=["default-kv"])
    ok = acl_catalog.put(
        "/v1/agent/token/default", headers=headers, json={"Token": default["SecretID"]}
    )
    assert ok.status_code == 200
    root.kv.put("defaulted", "v")
    assert acl_catalog.get("/v1/kv/defaulted").status_code == 200
    persisted = json.loads((acl_catalog.data_dir / "acl-tokens.json").read_text())
    assert persisted["default"] == default["SecretID"]
    assert (
        acl_catalog.put(
            "/v1/agent/token/acl_token", headers=headers, json={"Token": ""}
        ).status_code
        == 200
    )
    assert acl_catalog.get("/v1/kv/defaulted").status_code == 403

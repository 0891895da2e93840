"""What each endpoint asks of a token (the allow/deny table), and how reads are filtered, on a
real catalog with ACLs on and default deny."""

from __future__ import annotations

from typing import Any

import consul
import pytest

from tests.catalog.conftest import ROOT_TOKEN, CatalogProcess

FILTERED = "X-Consul-Results-Filtered-By-ACLs"

# The rules of each test token; "anonymous" sends no token at all.
TOKENS = {
    "kv-a-read": 'key_prefix "a/" { policy = "read" }',
    "kv-a-write": 'key_prefix "a/" { policy = "write" }',
    "kv-a-write-locked": 'key_prefix "a/" { policy = "write" }\nkey "a/locked" { policy = "read" }',
    "web-write": 'service "web" { policy = "write" }',
    "web-read": 'service "web" { policy = "read" }\nnode_prefix "" { policy = "read" }',
    "node-write": 'node "node1" { policy = "write" }',
    "ext-writer": 'node "ext" { policy = "write" }\nservice "web" { policy = "write" }',
    "agent-read": 'agent "node1" { policy = "read" }',
    "session-write": 'session_prefix "" { policy = "write" }',
    "session-read": 'session_prefix "" { policy = "read" }',
}


@pytest.fixture(scope="module")
def secrets(acl_catalog: CatalogProcess, root: consul.Consul) -> dict[str, str]:
    out = {"anonymous": "", "root": ROOT_TOKEN}
    for name, rules in TOKENS.items():
        policy = root.acl.policy.create(name)
        put = acl_catalog.put(
            f"/v1/acl/policy/{policy['ID']}",
            headers={"X-Consul-Token": ROOT_TOKEN},
            json={"Name": name, "Rules": rules},
        )
        assert put.status_code == 200, put.text
        out[name] = root.acl.token.create(policies_name=[name], description=name)["SecretID"]
    for key in ("a/x", "a/locked", "b/x"):
        assert root.kv.put(key, "v")
    root.agent.service.register("web", service_id="web-1", check=consul.Check.ttl("60s"))
    root.agent.service.register("db", service_id="db-1", check=consul.Check.ttl("60s"))
    root.agent.check.ttl_pass("service:web-1")
    root.session.create(name="held")
    return out


def _call(proc: CatalogProcess, secret: str, method: str, path: str, body: Any = None) -> Any:
    headers = {"X-Consul-Token": secret} if secret else {}
    if method == "GET":
        return proc.get(path, headers=headers)
    if method == "DELETE":
        return proc.delete(path, headers=headers)
    return proc.put(path, headers=headers, json=body)


# (token, method, path, body, status)
TABLE: list[tuple[str, str, str, Any, int]] = [
    # KV: read, write, and recursive delete under a prefix
    ("anonymous", "GET", "/v1/kv/a/x", None, 403),
    ("kv-a-read", "GET", "/v1/kv/a/x", None, 200),
    ("kv-a-read", "GET", "/v1/kv/b/x", None, 403),
    ("kv-a-read", "PUT", "/v1/kv/a/new", None, 403),
    ("kv-a-write", "PUT", "/v1/kv/a/new", None, 200),
    ("kv-a-write", "PUT", "/v1/kv/b/new", None, 403),
    ("kv-a-write", "DELETE", "/v1/kv/a/new", None, 200),
    ("kv-a-write-locked", "DELETE", "/v1/kv/a/?recurse", None, 403),
    ("kv-a-write-locked", "PUT", "/v1/kv/a/locked", None, 403),
    # the agent's services and checks
    ("anonymous", "PUT", "/v1/agent/service/register", {"Name": "web"}, 403),
    ("web-read", "PUT", "/v1/agent/service/register", {"Name": "web"}, 403),
    ("web-write", "PUT", "/v1/agent/service/register", {"Name": "web", "ID": "web-2"}, 200),
    ("web-write", "PUT", "/v1/agent/service/register", {"Name": "db", "ID": "db-2"}, 403),
    ("web-write", "PUT", "/v1/agent/service/deregister/db-1", None, 403),
    ("web-write", "PUT", "/v1/agent/service/deregister/web-2", None, 200),
    ("web-read", "GET", "/v1/agent/service/web-1", None, 200),
    ("kv-a-read", "GET", "/v1/agent/service/web-1", None, 403),
    ("web-read", "GET", "/v1/agent/health/service/name/web", None, 200),
    ("web-read", "GET", "/v1/agent/health/service/name/db", None, 403),
    ("web-write", "PUT", "/v1/agent/service/maintenance/web-1?enable=false", None, 200),
    ("web-write", "PUT", "/v1/agent/service/maintenance/db-1?enable=false", None, 403),
    ("node-write", "PUT", "/v1/agent/check/register", {"Name": "n-ttl", "TTL": "30s"}, 200),
    ("web-write", "PUT", "/v1/agent/check/register", {"Name": "n-ttl2", "TTL": "30s"}, 403),
    ("web-write", "PUT", "/v1/agent/check/pass/n-ttl", None, 403),
    ("node-write", "PUT", "/v1/agent/check/pass/n-ttl", None, 200),
    ("node-write", "PUT", "/v1/agent/maintenance?enable=false", None, 200),
    ("web-write", "PUT", "/v1/agent/maintenance?enable=false", None, 403),
    ("agent-read", "GET", "/v1/agent/self", None, 200),
    ("anonymous", "GET", "/v1/agent/self", None, 403),
    ("agent-read", "PUT", "/v1/agent/reload", None, 403),
    # the catalog's own register/deregister
    ("web-write", "PUT", "/v1/catalog/register", {"Node": "ext", "Address": "10.0.0.9"}, 403),
    (
        "ext-writer",
        "PUT",
        "/v1/catalog/register",
        {"Node": "ext", "Address": "10.0.0.9", "Service": {"Service": "web", "ID": "web-ext"}},
        200,
    ),
    ("web-write", "PUT", "/v1/catalog/deregister", {"Node": "ext", "ServiceID": "web-ext"}, 200),
    ("web-write", "PUT", "/v1/catalog/deregister", {"Node": "ext"}, 403),
    # sessions
    ("anonymous", "PUT", "/v1/session/create", {}, 403),
    ("session-read", "PUT", "/v1/session/create", {}, 403),
    ("session-write", "PUT", "/v1/session/create", {}, 200),
    # ACL management itself
    ("kv-a-write", "GET", "/v1/acl/policies", None, 403),
    ("kv-a-write", "PUT", "/v1/acl/token", {}, 403),
    ("anonymous", "GET", "/v1/acl/tokens", None, 403),
]


@pytest.mark.parametrize(
    ("token", "method", "path", "body", "status"),
    TABLE,
    ids=[f"{t[0]}-{t[1]}-{t[2]}" for t in TABLE],
)
def test_endpoint_table(
    acl_catalog: CatalogProcess,
    secrets: dict[str, str],
    token: str,
    method: str,
    path: str,
    body: Any,
    status: int,
) -> None:
    resp = _call(acl_catalog, secrets[token], method, path, body)
    assert resp.status_code == status, resp.text
    if status == 403:
        assert resp.text.startswith("Permission denied: token with AccessorID '")
        assert "lacks permission '" in resp.text


def test_a_refusal_names_the_token_permission_and_object(
    acl_catalog: CatalogProcess, secrets: dict[str, str]
) -> None:
    resp = acl_catalog.get("/v1/kv/foo")
    assert resp.text == (
        "Permission denied: token with AccessorID '00000000-0000-0000-0000-000000000002' "
        "lacks permission 'key:read' on \"foo\""
    )
    bogus = acl_catalog.get("/v1/kv/foo", headers={"X-Consul-Token": "no-such-secret"})
    assert (bogus.status_code, bogus.text) == (403, "ACL not found")


def test_txn_checks_each_operation(acl_catalog: CatalogProcess, secrets: dict[str, str]) -> None:
    ops = [
        {"KV": {"Verb": "get", "Key": "a/x"}},
        {"KV": {"Verb": "set", "Key": "a/y", "Value": "aGk="}},
        {"KV": {"Verb": "get", "Key": "b/x"}},
    ]
    resp = _call(acl_catalog, secrets["kv-a-read"], "PUT", "/v1/txn", ops)
    assert resp.status_code == 409
    errors = resp.json()["Errors"]
    assert [e["OpIndex"] for e in errors] == [1, 2]
    assert "lacks permission 'key:write' on \"a/y\"" in errors[0]["What"]
    ok = _call(acl_catalog, secrets["kv-a-read"], "PUT", "/v1/txn", ops[:1])
    assert ok.status_code == 200 and ok.json()["Results"][0]["KV"]["Key"] == "a/x"
    # a tree read needs read on its prefix, and keeps only the keys the token may read
    tree_op = [{"KV": {"Verb": "get-tree", "Key": ""}}]
    assert _call(acl_catalog, secrets["kv-a-read"], "PUT", "/v1/txn", tree_op).status_code == 409
    locked = _call(acl_catalog, secrets["kv-a-write-locked"], "PUT", "/v1/kv/a/locked").status_code
    assert locked == 403
    tree_op = [{"KV": {"Verb": "get-tree", "Key": "a/"}}]
    tree = _call(acl_catalog, secrets["kv-a-read"], "PUT", "/v1/txn", tree_op)
    assert {r["KV"]["Key"] for r in tree.json()["Results"]} >= {"a/x", "a/locked"}


# (token, path, what the token sees (None: all that root sees), filtered?)
FILTER_TABLE: list[tuple[str, str, Any, bool]] = [
    ("root", "/v1/catalog/services", {"consul", "web", "db"}, False),
    ("web-read", "/v1/catalog/services", {"web"}, True),
    ("anonymous", "/v1/catalog/services", set(), True),
    ("web-read", "/v1/catalog/nodes", None, False),
    ("anonymous", "/v1/catalog/nodes", set(), True),
    ("web-read", "/v1/health/service/web", {"web"}, False),
    ("kv-a-read", "/v1/health/service/web", set(), True),
    ("web-read", "/v1/agent/services", {"web"}, True),
    ("root", "/v1/agent/services", {"web", "db"}, False),
    ("kv-a-read", "/v1/kv/?recurse", {"a/x", "a/locked"}, True),
    ("kv-a-read", "/v1/kv/?keys", {"a/x", "a/locked"}, True),
    ("anonymous", "/v1/kv/?keys", set(), True),
    ("anonymous", "/v1/session/list", set(), True),
    ("session-read", "/v1/session/list", None, False),
    ("anonymous", "/v1/agent/members", set(), True),
    ("web-read", "/v1/agent/members", {"node1"}, False),
    ("web-read", "/v1/health/state/any", {"web"}, True),
]


def _names(path: str, data: Any) -> set[str]:
    if data is None:
        return set()
    if path.startswith("/v1/catalog/services"):
        return set(data)
    if path.startswith("/v1/catalog/nodes") or path.startswith("/v1/agent/members"):
        return {n.get("Node") or n.get("Name") for n in data}
    if path.startswith("/v1/health/service"):
        return {e["Service"]["Service"] for e in data}
    if path.startswith("/v1/health/state"):
        return {c["ServiceName"] for c in data if c["ServiceName"]}
    if path.startswith("/v1/agent/services"):
        return {s["Service"] for s in data.values()}
    if path.endswith("?keys"):
        return set(data)
    if path.startswith("/v1/kv/"):
        return {e["Key"] for e in data}
    return {s["ID"] for s in data}


@pytest.mark.parametrize(
    ("token", "path", "seen", "hidden"),
    FILTER_TABLE,
    ids=[f"{t[0]}-{t[1]}" for t in FILTER_TABLE],
)
def test_reads_are_filtered(
    acl_catalog: CatalogProcess,
    secrets: dict[str, str],
    token: str,
    path: str,
    seen: set[str],
    hidden: bool,
) -> None:
    resp = _call(acl_catalog, secrets[token], "GET", path)
    assert resp.status_code in (200, 404), resp.text
    data = resp.json() if resp.status_code == 200 else None
    if seen is None:
        seen = _names(path, _call(acl_catalog, ROOT_TOKEN, "GET", path).json())
        assert seen
    assert _names(path, data) == seen
    assert (resp.headers.get(FILTERED) == "true") is hidden


def test_a_blocking_read_is_filtered_per_token(
    acl_catalog: CatalogProcess, secrets: dict[str, str]
) -> None:
    # the same path, the same store generation: the cached answer of one token is never
    # another token's
    for _ in range(2):
        full = _call(acl_catalog, ROOT_TOKEN, "GET", "/v1/catalog/services?index=1&wait=1s")
        part = _call(
            acl_catalog, secrets["web-read"], "GET", "/v1/catalog/services?index=1&wait=1s"
        )
        assert set(full.json()) == {"consul", "web", "db"}
        assert set(part.json()) == {"web"} and part.headers[FILTERED] == "true"
        assert FILTERED not in full.headers
        assert full.headers["X-Consul-Default-Acl-Policy"] == "deny"


def test_default_policy_allow(tmp_path_factory: pytest.TempPathFactory) -> None:
    from tests.catalog.conftest import acl_config_dir

    tmp = tmp_path_factory.mktemp("allow")
    proc = CatalogProcess(tmp, "-config-dir", str(acl_config_dir(tmp, "allow"))).start()
    try:
        assert proc.put("/v1/kv/free", data=b"x").status_code == 200
        assert proc.get("/v1/catalog/services").headers.get(FILTERED) is None
        # ACL management is never granted by the default policy
        assert proc.get("/v1/acl/policies").status_code == 403
        assert proc.get("/v1/kv/free", headers={"X-Consul-Token": "bogus"}).status_code == 403
    finally:
        proc.proc.stop()


def test_agent_recovery_token_is_compared_in_constant_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The recovery secret is matched with `hmac.compare_digest`; it grants the local agent
    and reading nodes, and a near miss is an unknown token."""
    from yurt.api.errors import APIError
    from yurt.catalog import acl_http
    from yurt.catalog.acl_agent_tokens import AgentTokens
    from yurt.catalog.config import ConsulACLConfig

    class NoTokens:
        index = 1

        def token_by_secret(self, secret: str) -> None:
            return None

    config = ConsulACLConfig(enabled=True, default_policy="deny", agent_recovery="recover-me")
    resolver = acl_http.ACLResolver(
        config,
        NoTokens(),  # type: ignore[arg-type]
        AgentTokens(config, None),
        "node1",
    )
    compared: list[tuple[bytes, bytes]] = []
    real = acl_http.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(acl_http.hmac, "compare_digest", spy)
    who = resolver.authorizer("recover-me")
    assert compared == [(b"recover-me", b"recover-me")]
    assert who.accessor == "agent-recovery"
    assert who.agent_write("node1") and who.node_read("any") and not who.key_read("a")
    for near in ("recover-m", "recover-me2", "RECOVER-ME"):
        with pytest.raises(APIError) as exc:
            resolver.authorizer(near)
        assert (exc.value.status, exc.value.message) == (403, "ACL not found")

"""Nomad's ACL endpoints on a real scheduler process, with python-nomad as the client:
bootstrap once (and its reset file), policies, tokens, self, one-time tokens, 403 texts,
capabilities per endpoint and list filtering. Expiry runs in-process (it needs a clock
that has moved past the one-minute minimum TTL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import nomad
import pytest
import requests
from nomad.api import exceptions as nomad_exc

from tests.scheduler.conftest import SchedulerProcess
from tests.scheduler.jobs import job
from tests.scheduler.simnode import SimNode, wait_for
from yurt.scheduler import SchedulerConfig, SchedulerServer
from yurt.scheduler import store as s
from yurt.scheduler.acl_state import go_time, parse_go_time


@pytest.fixture(scope="module")
def acl_sched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SchedulerProcess]:
    proc = SchedulerProcess(tmp_path_factory.mktemp("acl"), "-acl-enabled").start()
    try:
        yield proc
    finally:
        proc.proc.stop()


@pytest.fixture(scope="module")
def root(acl_sched: SchedulerProcess) -> str:
    token = nomad.Nomad(host="127.0.0.1", port=acl_sched.port).acl.generate_bootstrap()
    assert token["Type"] == "management" and token["Name"] == "Bootstrap Token"
    return str(token["SecretID"])


def _api(sched: SchedulerProcess, token: str | None = None) -> nomad.Nomad:
    return nomad.Nomad(host="127.0.0.1", port=sched.port, token=token, timeout=15)


def _raw(
    sched: SchedulerProcess, method: str, path: str, token: str = "", **kw: object
) -> requests.Response:
    headers = {"X-Nomad-Token": token} if token else {}
    return requests.request(method, sched.url + path, headers=headers, timeout=15, **kw)  # type: ignore[arg-type]


def _client_token(sched: SchedulerProcess, root: str, policy: str, rules: str) -> str:
    """The secret of a new client token holding one new policy `policy` with `rules`."""
    admin = _api(sched, root)
    admin.acl.create_policy(policy, {"Name": policy, "Rules": rules})
    made = admin.acl.create_token({"Name": policy, "Type": "client", "Policies": [policy]})
    return str(made["SecretID"])


def test_bootstrap_once_then_reset_by_file(acl_sched: SchedulerProcess, root: str) -> None:
    again = _raw(acl_sched, "POST", "/v1/acl/bootstrap")
    assert again.status_code == 400
    assert again.text.startswith("ACL bootstrap already done (reset index: ")
    reset_index = int(again.text.rsplit(" ", 1)[1].rstrip(")"))
    # a wrong index in the reset file is refused, naming both
    (acl_sched.data_dir / "acl-bootstrap-reset").write_text("999999\n")
    wrong = _raw(acl_sched, "POST", "/v1/acl/bootstrap")
    assert wrong.status_code == 400
    assert wrong.text == (
        f"Invalid bootstrap reset index (specified 999999, reset index: {reset_index})"
    )
    (acl_sched.data_dir / "acl-bootstrap-reset").write_text(f"{reset_index}\n")
    secret = "2b778dd9-f5f1-6f29-b4b4-9a5fa948757a"
    fresh = _raw(acl_sched, "POST", "/v1/acl/bootstrap", json={"BootstrapSecret": secret})
    assert fresh.status_code == 200, fresh.text
    assert fresh.json()["SecretID"] == secret
    # the old reset index no longer matches the new bootstrap
    assert _raw(acl_sched, "POST", "/v1/acl/bootstrap").text.startswith(
        "Invalid bootstrap reset index (specified"
    )
    (acl_sched.data_dir / "acl-bootstrap-reset").unlink()
    # both management tokens work
    for token in (root, secret):
        assert _api(acl_sched, token).acl.get_self_token()["Type"] == "management"


def test_policies_crud(acl_sched: SchedulerProcess, root: str) -> None:
    api = _api(acl_sched, root)
    rules = 'namespace "default" { policy = "read" }\nnode { policy = "read" }'
    resp = api.acl.create_policy(
        "readonly", {"Name": "readonly", "Description": "ro", "Rules": rules}
    )
    assert resp.status_code == 200 and int(resp.headers["X-Nomad-Index"]) > 0
    got = api.acl.get_policy("readonly")
    assert got["Rules"] == rules and got["Description"] == "ro"
    assert got["RulesJSON"]["Node"] == {"Policy": "read"}
    assert got["CreateIndex"] == got["ModifyIndex"]
    names = [p["Name"] for p in api.acl.get_policies()]
    assert "readonly" in names
    assert set(api.acl.get_policies()[0]) == {
        "Name",
        "Description",
        "Hash",
        "CreateIndex",
        "ModifyIndex",
    }
    api.acl.update_policy("readonly", {"Name": "readonly", "Description": "ro2", "Rules": rules})
    updated = api.acl.get_policy("readonly")
    assert updated["Description"] == "ro2" and updated["ModifyIndex"] > got["ModifyIndex"]
    api.acl.create_policy("doomed", {"Name": "doomed", "Rules": 'agent { policy = "read" }'})
    assert api.acl.delete_policy("doomed")
    with pytest.raises(nomad_exc.URLNotFoundNomadException) as exc:
        api.acl.get_policy("doomed")
    assert exc.value.nomad_resp.text == "ACL policy not found"


@pytest.mark.parametrize(
    ("body", "status", "text"),
    [
        (
            {"Name": "bad", "Rules": 'namespace "default" {\n  policy = "foo"\n}'},
            400,
            "policy 0 invalid: 1 error occurred:\n\t* failed to parse rules: rules:2:3: "
            'Invalid namespace policy: &acl.NamespacePolicy{Name:"default", Policy:"foo", '
            "Capabilities:[]string(nil), Variables:(*acl.VariablesPolicy)(nil)}\n\n",
        ),
        (
            {"Name": "other", "Rules": 'node { policy = "read" }'},
            400,
            "ACL policy name does not match request path",
        ),
        (
            {"Name": "bad", "Rules": "namespace {"},
            400,
            "policy 0 invalid: 1 error occurred:\n\t* failed to parse rules: Failed to parse "
            "ACL Policy: rules:1:",
        ),
    ],
)
def test_invalid_policies(
    acl_sched: SchedulerProcess, root: str, body: dict[str, str], status: int, text: str
) -> None:
    resp = _raw(acl_sched, "POST", "/v1/acl/policy/bad", root, json=body)
    assert resp.status_code == status
    assert resp.text.startswith(text), resp.text


def test_tokens_crud_and_self(acl_sched: SchedulerProcess, root: str) -> None:
    api = _api(acl_sched, root)
    api.acl.create_policy("ops", {"Name": "ops", "Rules": 'node { policy = "write" }'})
    token = api.acl.create_token({"Name": "ops token", "Type": "client", "Policies": ["ops"]})
    assert token["SecretID"] and token["AccessorID"] and token["Policies"] == ["ops"]
    assert token["Global"] is False and token["CreateTime"].endswith("Z")
    listed = {t["AccessorID"]: t for t in api.acl.get_tokens()}
    assert token["AccessorID"] in listed and "SecretID" not in listed[token["AccessorID"]]
    info = api.acl.get_token(token["AccessorID"])
    assert info["Name"] == "ops token"
    me = _api(acl_sched, token["SecretID"]).acl.get_self_token()
    assert me["AccessorID"] == token["AccessorID"] and me["SecretID"] == token["SecretID"]
    # a token may read itself by accessor and the policies it holds, nothing else
    mine = _api(acl_sched, token["SecretID"])
    assert mine.acl.get_token(token["AccessorID"])["Name"] == "ops token"
    assert mine.acl.get_policy("ops")["Name"] == "ops"
    assert [p["Name"] for p in mine.acl.get_policies()] == ["ops"]
    for call in (mine.acl.get_tokens, lambda: mine.acl.get_policy("readonly")):
        with pytest.raises(nomad_exc.URLNotAuthorizedNomadException) as exc:
            call()
        assert exc.value.nomad_resp.text == "Permission denied"
    updated = api.acl.update_token(
        token["AccessorID"],
        {
            "AccessorID": token["AccessorID"],
            "Name": "renamed",
            "Type": "client",
            "Policies": ["ops"],
        },
    )
    assert updated["Name"] == "renamed" and updated["ModifyIndex"] > token["ModifyIndex"]
    assert api.acl.delete_token(token["AccessorID"])
    gone = _raw(acl_sched, "GET", "/v1/jobs", token["SecretID"])
    assert (gone.status_code, gone.text) == (403, "ACL token not found")
    self_gone = _raw(acl_sched, "GET", "/v1/acl/token/self", token["SecretID"])
    assert (self_gone.status_code, self_gone.text) == (404, "ACL token not found")


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"Name": "x", "Type": "client"}, "client token missing policies"),
        ({"Name": "x", "Type": "foo"}, "token type must be client or management"),
        (
            {"Name": "x", "Type": "management", "Policies": ["ops"]},
            "management token cannot be associated with policies",
        ),
        (
            {"Name": "x", "Type": "client", "Policies": ["ops"], "ExpirationTTL": "30s"},
            "expiration time cannot be less than 1m0s in the future (was 30s)",
        ),
        (
            {
                "Name": "x",
                "Type": "client",
                "Policies": ["ops"],
                "ExpirationTTL": 25 * 3600 * 10**9,
            },
            "expiration time cannot be more than 24h0m0s in the future (was 25h0m0s)",
        ),
    ],
)
def test_invalid_tokens(
    acl_sched: SchedulerProcess, root: str, body: dict[str, object], error: str
) -> None:
    resp = _raw(acl_sched, "POST", "/v1/acl/token", root, json=body)
    assert resp.status_code == 400
    assert resp.text == f"token 0 invalid: 1 error occurred:\n\t* {error}\n\n"


def test_token_with_ttl_shows_its_expiry(acl_sched: SchedulerProcess, root: str) -> None:
    api = _api(acl_sched, root)
    token = api.acl.create_token({"Name": "short", "Type": "management", "ExpirationTTL": "1h"})
    assert token["ExpirationTTL"] == 3600 * 10**9
    lifetime = parse_go_time(token["ExpirationTime"]) - parse_go_time(token["CreateTime"])
    assert timedelta(minutes=59) < lifetime <= timedelta(hours=1)


def test_one_time_token_exchange(acl_sched: SchedulerProcess, root: str) -> None:
    api = _api(acl_sched, root)
    api.acl.create_policy(
        "reader", {"Name": "reader", "Rules": 'namespace "*" { policy = "read" }'}
    )
    token = api.acl.create_token({"Name": "ui", "Type": "client", "Policies": ["reader"]})
    created = _raw(acl_sched, "POST", "/v1/acl/token/onetime", token["SecretID"])
    assert created.status_code == 200
    one = created.json()["OneTimeToken"]
    assert one["AccessorID"] == token["AccessorID"] and one["ExpiresAt"].endswith("Z")
    body = {"OneTimeSecretID": one["OneTimeSecretID"]}
    swapped = _raw(acl_sched, "POST", "/v1/acl/token/onetime/exchange", json=body)
    assert swapped.status_code == 200
    assert swapped.json()["Token"]["SecretID"] == token["SecretID"]
    twice = _raw(acl_sched, "POST", "/v1/acl/token/onetime/exchange", json=body)
    assert (twice.status_code, twice.text) == (403, "Permission denied")
    anonymous = _raw(acl_sched, "POST", "/v1/acl/token/onetime")
    assert (anonymous.status_code, anonymous.text) == (403, "Permission denied")


def test_capabilities_and_list_filtering(acl_sched: SchedulerProcess, root: str) -> None:
    for ns in ("default", "prod"):
        resp = _raw(
            acl_sched, "POST", "/v1/jobs", root, json={"Job": job(f"app-{ns}", Namespace=ns)}
        )
        assert resp.status_code == 200, resp.text
    dev = _client_token(
        acl_sched,
        root,
        "dev",
        'namespace "default" { policy = "write" }\nnamespace "prod" { policy = "deny" }',
    )
    everything = _raw(acl_sched, "GET", "/v1/jobs?namespace=*", root).json()
    assert {j["ID"] for j in everything} == {"app-default", "app-prod"}
    seen = _raw(acl_sched, "GET", "/v1/jobs?namespace=*", dev).json()
    assert [j["ID"] for j in seen] == ["app-default"]
    evals = _raw(acl_sched, "GET", "/v1/evaluations?namespace=*", dev).json()
    assert evals and {e["Namespace"] for e in evals} == {"default"}
    # per endpoint: read and write in default, nothing in prod, no node or operator rights
    cases = [
        ("GET", "/v1/job/app-default", 200),
        ("GET", "/v1/job/app-prod?namespace=prod", 403),
        ("GET", "/v1/jobs?namespace=prod", 403),
        ("POST", "/v1/job/app-default/evaluate", 200),
        ("GET", "/v1/nodes", 403),
        ("GET", "/v1/agent/self", 403),
        ("GET", "/v1/operator/scheduler/configuration", 403),
        ("PUT", "/v1/system/gc", 403),
    ]
    for method, path, status in cases:
        resp = _raw(acl_sched, method, path, dev)
        assert resp.status_code == status, (method, path, resp.text)
        if status == 403:
            assert resp.text == "Permission denied"
    # submitting into a namespace it may not write is refused before anything is stored
    denied = _raw(acl_sched, "POST", "/v1/jobs", dev, json={"Job": job("sneaky", Namespace="prod")})
    assert (denied.status_code, denied.text) == (403, "Permission denied")
    assert "sneaky" not in {
        j["ID"] for j in _raw(acl_sched, "GET", "/v1/jobs?namespace=*", root).json()
    }


def test_anonymous_policy_applies_without_a_token(acl_sched: SchedulerProcess, root: str) -> None:
    assert _raw(acl_sched, "GET", "/v1/jobs").status_code == 403
    _api(acl_sched, root).acl.create_policy(
        "anonymous", {"Name": "anonymous", "Rules": 'namespace "default" { policy = "read" }'}
    )
    try:
        jobs = _raw(acl_sched, "GET", "/v1/jobs")
        assert jobs.status_code == 200
        assert _raw(acl_sched, "POST", "/v1/jobs", json={"Job": job("anon")}).status_code == 403
    finally:
        _api(acl_sched, root).acl.delete_policy("anonymous")
    assert _raw(acl_sched, "GET", "/v1/jobs").status_code == 403


async def test_expired_tokens_are_refused(tmp_path: Path) -> None:
    srv = SchedulerServer(SchedulerConfig(http_port=0, data_dir=tmp_path, acl_enabled=True))
    await srv.start()
    try:
        token = srv.acl.create_token({"Name": "brief", "Type": "management", "ExpirationTTL": "1m"})
        headers = {"X-Nomad-Token": token["SecretID"]}
        async with aiohttp.ClientSession() as http:
            async with http.get(srv.address + "/v1/jobs", headers=headers) as resp:
                assert resp.status == 200
            # move the token's end into the past, as a minute passing would
            stored = srv.store.tables[s.ACL_TOKEN][token["AccessorID"]]
            past = go_time(datetime.now(UTC) - timedelta(seconds=1))
            with srv.store.write() as txn:
                txn.put(s.ACL_TOKEN, token["AccessorID"], {**stored, "ExpirationTime": past})
            async with http.get(srv.address + "/v1/jobs", headers=headers) as resp:
                assert (resp.status, await resp.text()) == (403, "ACL token expired")
    finally:
        await srv.stop()


async def test_tokens_survive_a_restart_and_only_hashes_are_stored(tmp_path: Path) -> None:
    config = SchedulerConfig(http_port=0, data_dir=tmp_path, acl_enabled=True)
    srv = SchedulerServer(config)
    secret = srv.acl.bootstrap()["SecretID"]
    srv.store.close()
    for file in tmp_path.glob("scheduler.db*"):
        assert secret.encode() not in file.read_bytes(), file
    again = SchedulerServer(SchedulerConfig(http_port=0, data_dir=tmp_path, acl_enabled=True))
    try:
        assert again.acl.resolve(secret).acl.is_management
    finally:
        again.store.close()


def test_one_time_tokens_keep_no_usable_secret_in_the_database(tmp_path: Path) -> None:
    """A pending one-time token keeps the caller's secret sealed with the one-time secret:
    neither is in the database files, and the exchange still gives the secret back."""
    config = SchedulerConfig(http_port=0, data_dir=tmp_path, acl_enabled=True)
    srv = SchedulerServer(config)
    secret = srv.acl.bootstrap()["SecretID"]
    made = srv.acl.create_one_time(srv.acl.resolve(secret))
    one_secret = made["OneTimeToken"]["OneTimeSecretID"]
    assert "SealedSecret" not in made["OneTimeToken"]
    srv.store.close()
    for file in tmp_path.glob("scheduler.db*"):
        data = file.read_bytes()
        assert secret.encode() not in data and one_secret.encode() not in data, file
    again = SchedulerServer(config)
    try:
        assert again.acl.exchange_one_time(one_secret)["Token"]["SecretID"] == secret
    finally:
        again.store.close()


def test_node_allocations_and_search_are_filtered(acl_sched: SchedulerProcess, root: str) -> None:
    node = SimNode(acl_sched.url, "acl-node")
    node.register()  # the node protocol needs the node's secret, not an ACL token
    node.start_heartbeats()
    try:
        for ns in ("default", "prod"):
            body = {"Job": job(f"placed-{ns}", Namespace=ns)}
            assert _raw(acl_sched, "POST", "/v1/jobs", root, json=body).status_code == 200

        def placed() -> list[dict[str, object]] | None:
            path = f"/v1/node/{node.id}/allocations"
            found = [
                a
                for a in _raw(acl_sched, "GET", path, root).json()
                if str(a["JobID"]).startswith("placed-")
            ]
            return found if len(found) == 2 else None

        every = wait_for(placed, what="both allocations placed on the node")
        assert {a["Namespace"] for a in every} == {"default", "prod"}
        node_dev = _client_token(
            acl_sched,
            root,
            "node-dev",
            'node { policy = "read" }\nnamespace "default" { policy = "read" }',
        )
        seen = _raw(acl_sched, "GET", f"/v1/node/{node.id}/allocations", node_dev).json()
        assert {a["Namespace"] for a in seen if a["JobID"].startswith("placed-")} == {"default"}
        # search: a token that may read nodes but no namespace finds nodes and no jobs
        nodes_only = _client_token(acl_sched, root, "nodes-only", 'node { policy = "read" }')
        body = {"Prefix": "", "Context": "all"}
        as_root = _raw(acl_sched, "POST", "/v1/search", root, json=body).json()["Matches"]
        assert as_root["jobs"] and as_root["nodes"]
        limited = _raw(acl_sched, "POST", "/v1/search", nodes_only, json=body).json()["Matches"]
        assert limited["jobs"] == [] and limited["allocs"] == [] and node.id in limited["nodes"]
        nothing = _raw(acl_sched, "POST", "/v1/search", json=body)
        assert (nothing.status_code, nothing.text) == (403, "Permission denied")
    finally:
        node.stop_heartbeats()


def test_job_writes_are_checked_in_the_namespace_they_write(
    acl_sched: SchedulerProcess, root: str
) -> None:
    """The check reads the body's job as the handler does: a job without a namespace lands
    in "default" whatever `?namespace=` says, and Go's decoder takes keys in any case."""
    other = _client_token(acl_sched, root, "other-writer", 'namespace "other" { policy = "write" }')
    bare = job("ns-sneak-bare")
    del bare["Namespace"]
    lower = {("namespace" if k == "Namespace" else k): v for k, v in job("ns-sneak-key").items()}
    attempts = [
        ("/v1/jobs?namespace=other", {"Job": bare}),
        ("/v1/jobs?namespace=other", {"Job": lower}),
        ("/v1/jobs?namespace=other", {"job": job("ns-sneak-outer")}),
        ("/v1/job/ns-sneak-bare?namespace=other", {"Job": bare}),
        ("/v1/job/ns-sneak-bare/plan?namespace=other", {"Job": bare}),
    ]
    for path, body in attempts:
        resp = _raw(acl_sched, "POST", path, other, json=body)
        assert (resp.status_code, resp.text) == (403, "Permission denied"), path
    listed = {j["ID"] for j in _raw(acl_sched, "GET", "/v1/jobs?namespace=*", root).json()}
    assert not {i for i in listed if i.startswith("ns-sneak")}
    # its own namespace, named in the job, is allowed
    mine = _raw(
        acl_sched, "POST", "/v1/jobs", other, json={"Job": job("ns-mine", Namespace="other")}
    )
    assert mine.status_code == 200, mine.text


def test_search_shows_only_objects_of_readable_namespaces(
    acl_sched: SchedulerProcess, root: str
) -> None:
    """Search answers evaluations and allocations of every namespace (and jobs of all with
    `namespace=*`); each ID is kept only when the token may read its namespace."""
    for ns in ("default", "prod"):
        body = {"Job": job(f"found-{ns}", Namespace=ns)}
        assert _raw(acl_sched, "POST", "/v1/jobs", root, json=body).status_code == 200
    reader = _client_token(
        acl_sched, root, "default-reader", 'namespace "default" { policy = "read" }'
    )
    evals = _raw(acl_sched, "GET", "/v1/evaluations?namespace=*", root).json()
    by_ns = {e["Namespace"]: e["ID"] for e in evals if str(e["JobID"]).startswith("found-")}
    assert set(by_ns) == {"default", "prod"}
    body = {"Prefix": "", "Context": "evals"}
    as_root = _raw(acl_sched, "POST", "/v1/search", root, json=body).json()["Matches"]
    assert by_ns["prod"] in as_root["evals"]
    seen = _raw(acl_sched, "POST", "/v1/search", reader, json=body).json()["Matches"]
    assert by_ns["default"] in seen["evals"] and by_ns["prod"] not in seen["evals"]
    everywhere = {"Prefix": "found-", "Context": "jobs"}
    jobs = _raw(acl_sched, "POST", "/v1/search?namespace=*", reader, json=everywhere).json()
    assert jobs["Matches"]["jobs"] == ["found-default"]


def test_exec_through_the_scheduler_checks_the_task_driver(
    acl_sched: SchedulerProcess, root: str
) -> None:
    """The scheduler's own check knows the task's driver (its stored allocations do not
    carry the job): exec into a raw_exec task without alloc-node-exec is refused before the
    request is forwarded (the simulated node has no HTTP API to forward to)."""
    node = SimNode(acl_sched.url, "exec-node")
    node.register()
    node.start_heartbeats()
    try:
        body = {"Job": job("exec-raw")}
        assert _raw(acl_sched, "POST", "/v1/jobs", root, json=body).status_code == 200

        def placed() -> str | None:
            allocs = _raw(acl_sched, "GET", "/v1/job/exec-raw/allocations", root).json()
            return str(allocs[0]["ID"]) if allocs else None

        alloc_id = wait_for(placed, what="the raw_exec allocation placed")
        token = _client_token(
            acl_sched, root, "exec-only", 'namespace "default" { capabilities = ["alloc-exec"] }'
        )
        task_name = job("exec-raw")["TaskGroups"][0]["Tasks"][0]["Name"]
        path = f"/v1/client/allocation/{alloc_id}/exec?task={task_name}&command=%5B%22true%22%5D"
        refused = _raw(acl_sched, "GET", path, token)
        assert (refused.status_code, refused.text) == (403, "Permission denied")
        # with management rights the request passes the check (and fails to reach the node)
        assert _raw(acl_sched, "GET", path, root).status_code != 403
    finally:
        node.stop_heartbeats()

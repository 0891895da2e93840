"""The agent endpoints through py-consul and raw HTTP, against a real `yurt catalog`."""

from __future__ import annotations

import consul
import pytest

from tests.catalog.conftest import CatalogProcess, Target, wait_for


def _check(c: consul.Consul, check_id: str) -> dict[str, object]:
    return c.agent.checks()[check_id]  # type: ignore[no-any-return]


def test_self_has_what_nomad_and_fabio_read(c: consul.Consul) -> None:
    me = c.agent.self()
    assert me["Config"]["Datacenter"] == "dc1"
    assert me["Config"]["NodeName"] == "node1"
    major, minor, patch = me["Config"]["Version"].split(".")
    assert major.isdigit() and minor.isdigit() and patch.isdigit()
    assert me["Member"]["Tags"]["build"].startswith(me["Config"]["Version"])
    members = c.agent.members()
    assert [m["Name"] for m in members] == ["node1"]
    assert members[0]["Status"] == 1


def test_register_echoes_tags_meta_weights(c: consul.Consul) -> None:
    c.agent.service.register(
        "echo",
        service_id="echo-1",
        address="10.0.0.5",
        port=9000,
        tags=["urlprefix-/echo", "v1"],
        meta={"version": "1"},
    )
    svc = c.agent.services()["echo-1"]
    assert svc["Service"] == "echo"
    assert svc["Tags"] == ["urlprefix-/echo", "v1"]
    assert svc["Meta"] == {"version": "1"}
    assert svc["Weights"] == {"Passing": 1, "Warning": 1}
    assert svc["Address"] == "10.0.0.5" and svc["Port"] == 9000
    one = c.agent.service.service("echo-1") if hasattr(c.agent.service, "service") else None
    if one is not None:
        assert one["ID"] == "echo-1"
    # ID defaults to Name
    c.agent.service.register("plain", port=1)
    assert "plain" in c.agent.services()
    assert c.agent.service.deregister("plain")
    assert "plain" not in c.agent.services()


def test_reregister_same_changes_nothing(catalog: CatalogProcess) -> None:
    body = {"Name": "same", "Port": 5, "Tags": ["a"], "Check": {"TTL": "30s"}}
    assert catalog.put("/v1/agent/service/register", json=body).status_code == 200
    before = catalog.get("/v1/health/service/same").headers["X-Consul-Index"]
    assert catalog.put("/v1/agent/service/register", json=body).status_code == 200
    after = catalog.get("/v1/health/service/same").headers["X-Consul-Index"]
    assert before == after


def test_deregister_unknown_is_404(catalog: CatalogProcess) -> None:
    r = catalog.put("/v1/agent/service/deregister/nope")
    assert r.status_code == 404
    assert "nope" in r.text


def test_ttl_check_pass_warn_fail_and_expiry(c: consul.Consul) -> None:
    c.agent.service.register("ttlsvc", check=consul.Check.ttl("1s"))
    chk = _check(c, "service:ttlsvc")
    assert chk["Status"] == "critical"
    assert chk["ServiceTags"] == []
    c.agent.check.ttl_pass("service:ttlsvc", "all good")
    chk = _check(c, "service:ttlsvc")
    assert (chk["Status"], chk["Output"]) == ("passing", "all good")
    c.agent.check.ttl_warn("service:ttlsvc", "meh")
    assert _check(c, "service:ttlsvc")["Status"] == "warning"
    c.agent.check.ttl_fail("service:ttlsvc", "bad")
    assert _check(c, "service:ttlsvc")["Status"] == "critical"
    c.agent.check.ttl_pass("service:ttlsvc")
    wait_for(
        lambda: _check(c, "service:ttlsvc")["Status"] == "critical",
        timeout=5,
        what="TTL expiry",
    )
    assert _check(c, "service:ttlsvc")["Output"] == "TTL expired"


def test_check_update_endpoint(catalog: CatalogProcess) -> None:
    assert (
        catalog.put(
            "/v1/agent/check/register", json={"Name": "upd", "TTL": "60s", "Status": "passing"}
        ).status_code
        == 200
    )
    r = catalog.put("/v1/agent/check/update/upd", json={"Status": "warning", "Output": "x"})
    assert r.status_code == 200
    chk = catalog.get("/v1/agent/checks").json()["upd"]
    assert (chk["Status"], chk["Output"]) == ("warning", "x")
    bad = catalog.put("/v1/agent/check/update/upd", json={"Status": "sideways"})
    assert bad.status_code == 400
    missing = catalog.put("/v1/agent/check/pass/none-such")
    assert missing.status_code == 404
    assert 'Unknown check ID "none-such"' in missing.text
    body = {"Name": "nottl", "TCP": "127.0.0.1:1", "Interval": "1h"}
    assert catalog.put("/v1/agent/check/register", json=body).status_code == 200
    r = catalog.put("/v1/agent/check/pass/nottl")
    assert (r.status_code, r.text) == (500, 'CheckID "nottl" does not have associated TTL')
    catalog.put("/v1/agent/check/deregister/nottl")
    assert catalog.put("/v1/agent/check/deregister/upd").status_code == 200
    assert "upd" not in catalog.get("/v1/agent/checks").json()


def test_initial_status_from_definition(c: consul.Consul, catalog: CatalogProcess) -> None:
    body = {"Name": "initial", "Check": {"TTL": "60s", "Status": "passing"}}
    assert catalog.put("/v1/agent/service/register", json=body).status_code == 200
    assert _check(c, "service:initial")["Status"] == "passing"


def test_http_check_follows_target(c: consul.Consul, target: Target) -> None:
    target.status = 200
    c.agent.service.register(
        "web",
        service_id="web-1",
        port=target.port,
        tags=["urlprefix-/web"],
        check=consul.Check.http(target.url, "200ms", timeout="1s"),
    )
    chk = wait_for(
        lambda: (x := _check(c, "service:web-1"))["Status"] == "passing" and x,
        what="http check passing",
    )
    assert chk["Output"] == f"HTTP GET {target.url}: 200 OK Output: hello"
    assert chk["ServiceTags"] == ["urlprefix-/web"]
    assert target.requests[-1]["User-Agent"] == "Consul Health Check"
    target.status = 429
    wait_for(lambda: _check(c, "service:web-1")["Status"] == "warning", what="429 -> warning")
    target.status = 500
    wait_for(lambda: _check(c, "service:web-1")["Status"] == "critical", what="500 -> critical")
    target.status = 200
    wait_for(lambda: _check(c, "service:web-1")["Status"] == "passing", what="back to passing")
    c.agent.service.deregister("web-1")


def test_http_check_runs_at_once(c: consul.Consul, target: Target) -> None:
    target.status = 200
    c.agent.service.register("quick", check=consul.Check.http(target.url, "1h", timeout="1s"))
    wait_for(
        lambda: _check(c, "service:quick")["Status"] == "passing",
        timeout=2,
        what="first run of an interval check",
    )
    c.agent.service.deregister("quick")


def test_tcp_check(c: consul.Consul, target: Target) -> None:
    c.agent.service.register(
        "tcpsvc", check=consul.Check.tcp("127.0.0.1", target.port, "200ms", timeout="1s")
    )
    chk = wait_for(
        lambda: (x := _check(c, "service:tcpsvc"))["Status"] == "passing" and x,
        what="tcp passing",
    )
    assert chk["Output"] == f"TCP connect 127.0.0.1:{target.port}: Success"
    from tests.support.process import free_port

    dead = free_port()
    c.agent.service.register(
        "tcpdead", check=consul.Check.tcp("127.0.0.1", dead, "200ms", timeout="1s")
    )
    chk = wait_for(lambda: (x := _check(c, "service:tcpdead"))["Output"] and x, what="tcp refused")
    assert chk["Status"] == "critical"
    assert "connection refused" in chk["Output"]
    c.agent.service.deregister("tcpsvc")
    c.agent.service.deregister("tcpdead")


def test_deregister_critical_service_after(c: consul.Consul) -> None:
    c.agent.service.register(
        "doomed",
        check={"TTL": "60s", "DeregisterCriticalServiceAfter": "500ms"},
    )
    assert "doomed" in c.agent.services()
    wait_for(lambda: "doomed" not in c.agent.services(), timeout=5, what="reaping")


def test_replace_existing_checks(catalog: CatalogProcess, c: consul.Consul) -> None:
    body = {
        "Name": "multi",
        "Checks": [{"CheckID": "a", "TTL": "60s"}, {"CheckID": "b", "TTL": "60s"}],
    }
    assert catalog.put("/v1/agent/service/register", json=body).status_code == 200
    assert {"a", "b"} <= set(c.agent.checks())
    body = {"Name": "multi", "Checks": [{"CheckID": "a", "TTL": "60s"}]}
    r = catalog.put("/v1/agent/service/register?replace-existing-checks", json=body)
    assert r.status_code == 200
    checks = c.agent.checks()
    assert "a" in checks and "b" not in checks


def test_lowercase_and_snake_bodies(catalog: CatalogProcess, c: consul.Consul) -> None:
    body = {
        "name": "snake",
        "id": "snake-1",
        "port": 7,
        "check": {"ttl": "60s", "deregister_critical_service_after": "1m", "status": "passing"},
    }
    assert catalog.put("/v1/agent/service/register", json=body).status_code == 200
    chk = c.agent.checks()["service:snake-1"]
    assert chk["Status"] == "passing"
    assert chk["Definition"]["DeregisterCriticalServiceAfter"] == "1m0s"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"Port": 1}, "Missing service name"),
        ({"Name": "x", "Port": "eighty"}, "Port"),
        # script checks are refused with 500 unless enabled (test_check_script.py)
        ({"Name": "x", "Check": {"UDP": "127.0.0.1:53", "Interval": "1s"}}, "UDP"),
        ({"Name": "x", "Check": {"HTTP": "http://x", "Interval": "nope"}}, "Interval"),
        ({"Name": "x", "Check": {"HTTP": "http://x"}}, "Interval"),
        ({"Name": "x", "Tags": "a,b"}, "Tags"),
    ],
)
def test_bad_service_definitions(
    catalog: CatalogProcess, body: dict[str, object], fragment: str
) -> None:
    r = catalog.put("/v1/agent/service/register", json=body)
    assert r.status_code == 400, r.text
    assert fragment in r.text
    assert "x" not in catalog.get("/v1/agent/services").json()


def test_malformed_json(catalog: CatalogProcess) -> None:
    r = catalog.put("/v1/agent/service/register", data=b'{"Name": ')
    assert r.status_code == 400
    assert "line 1" in r.text


def test_service_and_node_maintenance(c: consul.Consul, catalog: CatalogProcess) -> None:
    c.agent.service.register("maint", check={"TTL": "60s", "Status": "passing"})
    assert c.agent.service.maintenance("maint", True, "upgrading")
    chk = c.agent.checks()["_service_maintenance:maint"]
    assert (chk["Status"], chk["Notes"]) == ("critical", "upgrading")
    _, healthy = c.health.service("maint", passing=True)
    assert healthy == []
    assert c.agent.service.maintenance("maint", False)
    _, healthy = c.health.service("maint", passing=True)
    assert len(healthy) == 1
    assert c.agent.maintenance(True)
    assert "_node_maintenance" in c.agent.checks()
    _, healthy = c.health.service("maint", passing=True)
    assert healthy == []
    assert c.agent.maintenance(False)
    assert "_node_maintenance" not in c.agent.checks()
    assert catalog.put("/v1/agent/maintenance").status_code == 400


def test_agent_health_service_endpoints(catalog: CatalogProcess) -> None:
    body = {"Name": "lb", "ID": "lb-1", "Check": {"CheckID": "lb-ttl", "TTL": "60s"}}
    assert catalog.put("/v1/agent/service/register", json=body).status_code == 200
    r = catalog.get("/v1/agent/health/service/id/lb-1")
    assert r.status_code == 503
    assert r.json()["AggregatedStatus"] == "critical"
    assert r.json()["Service"]["ID"] == "lb-1"
    catalog.put("/v1/agent/check/warn/lb-ttl")
    r = catalog.get("/v1/agent/health/service/name/lb?format=text")
    assert (r.status_code, r.text) == (429, "warning")
    catalog.put("/v1/agent/check/pass/lb-ttl")
    r = catalog.get("/v1/agent/health/service/name/lb")
    assert r.status_code == 200
    assert [d["AggregatedStatus"] for d in r.json()] == ["passing"]
    catalog.put("/v1/agent/service/maintenance/lb-1?enable=true")
    r = catalog.get("/v1/agent/health/service/id/lb-1?format=text")
    assert (r.status_code, r.text) == (503, "maintenance")
    assert catalog.get("/v1/agent/health/service/id/nope").status_code == 404
    assert catalog.get("/v1/agent/health/service/name/nope").status_code == 404


def test_check_register_through_py_consul(c: consul.Consul, target: Target) -> None:
    assert c.agent.check.register("node-level", check=consul.Check.ttl("30s"), check_id="nl")
    assert c.agent.checks()["nl"]["ServiceID"] == ""
    assert c.agent.check.ttl_pass("nl", "fine")
    assert c.agent.checks()["nl"]["Status"] == "passing"
    c.agent.service.register("attached", service_id="attached-1", tags=["t1"])
    assert c.agent.check.register(
        "attached http",
        check=consul.Check.http(target.url, "1h", timeout="1s"),
        check_id="attached-http",
        service_id="attached-1",
    )
    chk = wait_for(
        lambda: (x := c.agent.checks()["attached-http"])["Status"] == "passing" and x,
        what="attached check passing",
    )
    assert (chk["ServiceID"], chk["ServiceName"], chk["ServiceTags"]) == (
        "attached-1",
        "attached",
        ["t1"],
    )
    # the node-level check counts for every service on the node
    _, rows = c.health.service("attached")
    assert {"nl", "attached-http", "serfHealth"} <= {x["CheckID"] for x in rows[0]["Checks"]}
    assert c.agent.check.deregister("nl")
    c.agent.service.deregister("attached-1")
    assert "attached-http" not in c.agent.checks()

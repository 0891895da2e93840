"""Catalog, health and status endpoints."""

from __future__ import annotations

import consul

from tests.catalog.conftest import CatalogProcess


def test_agent_node_and_serf_health(c: consul.Consul) -> None:
    _, nodes = c.catalog.nodes()
    assert [n["Node"] for n in nodes] == ["node1"]
    _, checks = c.health.node("node1")
    serf = [ch for ch in checks if ch["CheckID"] == "serfHealth"]
    assert serf and serf[0]["Status"] == "passing"
    assert "serfHealth" not in c.agent.checks()
    _, services = c.catalog.services()
    assert "consul" in services
    assert c.catalog.datacenters() == ["dc1"]


def test_status(c: consul.Consul) -> None:
    leader = c.status.leader()
    assert leader.endswith(":8300")
    assert c.status.peers() == [leader]


def test_catalog_service_tags_filter(c: consul.Consul, catalog: CatalogProcess) -> None:
    c.agent.service.register("api", service_id="api-1", port=1, tags=["blue"], meta={"v": "1"})
    c.agent.service.register("api", service_id="api-2", port=2, tags=["green"], meta={"v": "2"})
    _, services = c.catalog.services()
    assert sorted(services["api"]) == ["blue", "green"]
    _, rows = c.catalog.service("api")
    assert [r["ServiceID"] for r in rows] == ["api-1", "api-2"]
    assert rows[0]["Node"] == "node1" and rows[0]["ServicePort"] == 1
    _, rows = c.catalog.service("api", tag="green")
    assert [r["ServiceID"] for r in rows] == ["api-2"]
    _, rows = c.catalog.service("api", filter_expr='ServiceMeta.v == "1"')
    assert [r["ServiceID"] for r in rows] == ["api-1"]
    _, rows = c.catalog.service("api", filter_expr='"blue" in ServiceTags')
    assert [r["ServiceID"] for r in rows] == ["api-1"]
    r = catalog.get("/v1/catalog/service/api?near=_agent&stale&tag=blue")
    assert r.status_code == 200 and len(r.json()) == 1
    r = catalog.get("/v1/catalog/service/api?filter=ServiceMeta.v ==")
    assert r.status_code == 400
    _, node = c.catalog.node("node1")
    assert {"api-1", "api-2"} <= set(node["Services"])
    listed = catalog.get("/v1/catalog/node-services/node1").json()
    assert listed["Node"]["Node"] == "node1"
    assert {"api-1", "api-2"} <= {s["ID"] for s in listed["Services"]}


def test_health_service_passing_and_tag(c: consul.Consul) -> None:
    c.agent.service.register("hs", service_id="hs-ok", tags=["t"], check={"TTL": "60s"})
    c.agent.service.register("hs", service_id="hs-bad", check={"TTL": "60s"})
    c.agent.check.ttl_pass("service:hs-ok")
    _, rows = c.health.service("hs")
    assert len(rows) == 2
    assert {ch["CheckID"] for ch in rows[0]["Checks"]} >= {"serfHealth"}
    _, rows = c.health.service("hs", passing=True)
    assert [r["Service"]["ID"] for r in rows] == ["hs-ok"]
    _, rows = c.health.service("hs", tag="t")
    assert [r["Service"]["ID"] for r in rows] == ["hs-ok"]
    _, checks = c.health.checks("hs")
    assert {ch["CheckID"] for ch in checks} == {"service:hs-ok", "service:hs-bad"}
    _, critical = c.health.state("critical")
    assert "service:hs-bad" in {ch["CheckID"] for ch in critical}
    assert "service:hs-ok" not in {ch["CheckID"] for ch in critical}
    _, passing = c.health.state("passing")
    assert "service:hs-ok" in {ch["CheckID"] for ch in passing}


def test_health_state_bad(catalog: CatalogProcess) -> None:
    r = catalog.get("/v1/health/state/purple")
    assert r.status_code == 400


def test_catalog_register_deregister_external_node(c: consul.Consul) -> None:
    assert c.catalog.register(
        "ext1",
        "10.1.1.1",
        service={"Service": "db", "ID": "db-1", "Port": 5432, "Tags": ["primary"]},
        check={"CheckID": "db-alive", "Name": "db", "Status": "passing", "ServiceID": "db-1"},
    )
    _, rows = c.catalog.service("db")
    assert rows[0]["Node"] == "ext1" and rows[0]["Address"] == "10.1.1.1"
    _, rows = c.health.service("db", passing=True)
    assert len(rows) == 1 and rows[0]["Checks"][0]["ServiceTags"] == ["primary"]
    _, nodes = c.catalog.nodes()
    assert {"node1", "ext1"} <= {n["Node"] for n in nodes}
    assert c.catalog.deregister("ext1", service_id="db-1")
    _, rows = c.catalog.service("db")
    assert rows == []
    assert c.catalog.deregister("ext1")
    _, nodes = c.catalog.nodes()
    assert "ext1" not in {n["Node"] for n in nodes}


def test_unknown_datacenter(catalog: CatalogProcess) -> None:
    r = catalog.get("/v1/catalog/services?dc=mars")
    # Consul's exact answer (the differential test compares it with the real one)
    assert (r.status_code, r.text) == (500, "No path to datacenter")


def test_node_meta_filter(c: consul.Consul, catalog: CatalogProcess) -> None:
    c.catalog.register(
        "metanode", "10.2.2.2", service={"Service": "metasvc", "Port": 1}, node_meta={"rack": "a"}
    )
    _, rows = c.catalog.service("metasvc", node_meta={"rack": "a"})
    assert [r["Node"] for r in rows] == ["metanode"]
    _, rows = c.catalog.service("metasvc", node_meta={"rack": "b"})
    assert rows == []
    _, nodes = c.catalog.nodes(node_meta={"rack": "a"})
    assert [n["Node"] for n in nodes] == ["metanode"]
    r = catalog.get("/v1/catalog/nodes?node-meta=nocolon")
    assert r.status_code == 400
    c.catalog.deregister("metanode")

"""Connect as a catalog: sidecar registrations expanded as Consul's agent expands them, the
proxy and gateway views (`/v1/catalog/connect`, `/v1/health/connect`, `/v1/health/ingress`,
`/v1/catalog/gateway-services`), with shapes checked against consul 1.10.11."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.catalog.inprocess import py_consul, request, running_catalog
from yurt.catalog.connect import alias_status, sidecar_port
from yurt.catalog.definitions import DefinitionError
from yurt.catalog.model import Check, Service

PORTS = [
    # nothing in the range: the first port
    ([], "web-sidecar-proxy", 21000),
    # the lowest port no local service uses
    ([21000, 21002], "web-sidecar-proxy", 21001),
    # ports outside the range do not count
    ([8080, 20999], "web-sidecar-proxy", 21000),
]


@pytest.mark.parametrize(("used", "sid", "want"), PORTS)
def test_sidecar_port(used: list[int], sid: str, want: int) -> None:
    local = [Service(node="n", id=f"s{p}", name="s", port=p) for p in used]
    assert sidecar_port(sid, local) == want


def test_a_sidecar_keeps_its_port_when_registered_again() -> None:
    local = [
        Service(node="n", id="a", name="a", port=21000),
        Service(node="n", id="web-sidecar-proxy", name="w", port=21001),
    ]
    assert sidecar_port("web-sidecar-proxy", local) == 21001


def test_no_port_left() -> None:
    local = [Service(node="n", id=f"s{p}", name="s", port=p) for p in range(21000, 21256)]
    with pytest.raises(DefinitionError) as info:
        sidecar_port("x-sidecar-proxy", local)
    assert str(info.value) == (
        "no port provided for sidecar_service and none left in the configured range [21000, 21255]"
    )


def _check(status: str) -> Check:
    return Check(node="n", check_id=status, name=status, status=status)


ALIASES = [
    ([], ("passing", "No checks found.")),
    ([_check("passing")], ("passing", "All checks passing.")),
    ([_check("passing"), _check("critical")], ("critical", "Aliased check 'critical' is critical")),
    ([_check("warning"), _check("passing")], ("warning", "Aliased check 'warning' is warning")),
]


@pytest.mark.parametrize(("checks", "want"), ALIASES)
def test_alias_status(checks: list[Check], want: tuple[str, str]) -> None:
    assert alias_status(checks) == want


async def test_sidecar_service_registration(tmp_path: Path) -> None:
    async with running_catalog(tmp_path) as srv, py_consul(srv) as c:
        await c.agent.service.register(
            "web", port=8080, tags=["a"], meta={"k": "v"}, connect={"SidecarService": {}}
        )
        services = await c.agent.services()
        assert set(services) == {"web", "web-sidecar-proxy"}
        assert "Connect" not in services["web"]  # the agent keeps no SidecarService
        sidecar = services["web-sidecar-proxy"]
        assert sidecar["Kind"] == "connect-proxy"
        assert sidecar["Service"] == "web-sidecar-proxy"
        assert sidecar["Port"] == 21000
        assert (sidecar["Tags"], sidecar["Meta"]) == (["a"], {"k": "v"})  # inherited
        assert sidecar["Proxy"] == {
            "DestinationServiceName": "web",
            "DestinationServiceID": "web",
            "LocalServiceAddress": "127.0.0.1",
            "LocalServicePort": 8080,
            "MeshGateway": {},
            "Expose": {},
        }
        checks = await c.agent.checks()
        listening = checks["service:web-sidecar-proxy:1"]
        aliasing = checks["service:web-sidecar-proxy:2"]
        assert listening["Name"] == "Connect Sidecar Listening"
        assert listening["Type"] == "tcp" and listening["Status"] == "critical"
        assert listening["Definition"]["TCP"] == "127.0.0.1:21000"
        assert aliasing["Name"] == "Connect Sidecar Aliasing web"
        assert (aliasing["Type"], aliasing["Status"]) == ("alias", "passing")
        assert aliasing["Output"] == "No checks found."

        # the next sidecar takes the next port; one given explicitly keeps it
        upstream = {"DestinationName": "db", "LocalBindPort": 9191}
        await c.agent.service.register(
            "api", port=9090, connect={"SidecarService": {"Proxy": {"Upstreams": [upstream]}}}
        )
        await c.agent.service.register("db", port=5432, connect={"SidecarService": {"Port": 21555}})
        services = await c.agent.services()
        assert services["api-sidecar-proxy"]["Port"] == 21001
        assert services["api-sidecar-proxy"]["Proxy"]["Upstreams"] == [
            {
                "DestinationType": "service",
                "DestinationName": "db",
                "LocalBindPort": 9191,
                "MeshGateway": {},
            }
        ]
        assert services["db-sidecar-proxy"]["Port"] == 21555

        # deregistering a service removes its sidecar
        await c.agent.service.deregister("web")
        services = await c.agent.services()
        assert "web-sidecar-proxy" not in services and "api-sidecar-proxy" in services
        checks = await c.agent.checks()
        assert not [k for k in checks if k.startswith("service:web-sidecar-proxy")]


async def test_connect_proxy_registrations_are_checked(tmp_path: Path) -> None:
    async with running_catalog(tmp_path) as srv:
        status, text, _ = await request(
            srv, "PUT", "/v1/agent/service/register", {"Name": "p1", "Kind": "connect-proxy"}
        )
        assert (status, text) == (
            400,
            "2 errors occurred:\n"
            "\t* Proxy.DestinationServiceName must be non-empty for Connect proxy services\n"
            "\t* Port or SocketPath must be set for a Connect proxy\n\n",
        )
        proxy = {
            "Name": "p1",
            "Kind": "connect-proxy",
            "Port": 3000,
            "Proxy": {"destination_service_name": "web", "local_service_port": 80},
        }
        status, _, _ = await request(srv, "PUT", "/v1/agent/service/register", proxy)
        assert status == 200
        status, rows, _ = await request(srv, "GET", "/v1/catalog/connect/web")
        assert status == 200 and [r["ServiceID"] for r in rows] == ["p1"]
        assert rows[0]["ServiceProxy"] == {
            "DestinationServiceName": "web",
            "LocalServicePort": 80,
            "Mode": "",
            "MeshGateway": {},
            "Expose": {},
        }


async def test_connect_and_health_views(tmp_path: Path) -> None:
    async with running_catalog(tmp_path) as srv, py_consul(srv) as c:
        await c.agent.service.register("web", port=8080, connect={"SidecarService": {}})
        await c.agent.service.register("native", port=7000, connect={"Native": True})
        _, rows, headers = await request(srv, "GET", "/v1/catalog/connect/web")
        assert [(r["ServiceID"], r["ServiceKind"]) for r in rows] == [
            ("web-sidecar-proxy", "connect-proxy")
        ]
        assert rows[0]["ServiceProxy"]["Mode"] == ""
        assert int(headers["X-Consul-Index"]) > 1
        _, rows, _ = await request(srv, "GET", "/v1/catalog/connect/native")
        assert [(r["ServiceID"], r["ServiceConnect"]) for r in rows] == [
            ("native", {"Native": True})
        ]
        assert (await request(srv, "GET", "/v1/catalog/connect/nope"))[1] == []
        # py-consul's health.connect reads /v1/health/connect
        _, nodes = await c.health.connect("web")
        (row,) = nodes
        assert row["Service"]["Kind"] == "connect-proxy"
        assert [ch["CheckID"] for ch in row["Checks"]] == [
            "serfHealth",
            "service:web-sidecar-proxy:1",
            "service:web-sidecar-proxy:2",
        ]
        # the Listening check is critical: no proxy runs
        _, passing = await c.health.connect("web", passing=True)
        assert passing == []


async def test_gateways(tmp_path: Path) -> None:
    async with running_catalog(tmp_path) as srv, py_consul(srv) as c:
        await c.config.set("service-defaults", "web", {"Protocol": "http"})
        listeners = [{"Port": 8080, "Protocol": "http", "Services": [{"Name": "web"}]}]
        await c.config.set("ingress-gateway", "ig", {"Listeners": listeners})
        await c.config.set(
            "terminating-gateway", "tg", {"Services": [{"Name": "db", "SNI": "db.example"}]}
        )
        _, rows, _ = await request(srv, "GET", "/v1/catalog/gateway-services/ig")
        (row,) = rows
        assert {k: v for k, v in row.items() if not k.endswith("Index")} == {
            "Gateway": {"Name": "ig"},
            "Service": {"Name": "web"},
            "GatewayKind": "ingress-gateway",
            "Port": 8080,
            "Protocol": "http",
        }
        _, rows, _ = await request(srv, "GET", "/v1/catalog/gateway-services/tg")
        assert rows[0]["GatewayKind"] == "terminating-gateway" and rows[0]["SNI"] == "db.example"
        # a gateway linked to nothing is `null`, as Consul answers
        assert (await request(srv, "GET", "/v1/catalog/gateway-services/none"))[1] is None
        # the ingress gateway's instances serve web
        assert (await request(srv, "GET", "/v1/health/ingress/web"))[1] == []
        await c.agent.service.register("ig", port=8443, kind="ingress-gateway")
        _, rows = await c.health.ingress("web")  # py-consul reads /v1/health/ingress
        assert [r["Service"]["ID"] for r in rows] == ["ig"]
        assert (await request(srv, "GET", "/v1/health/ingress/other"))[1] == []
        # an http listener needs http services, as Consul checks
        bad = [{"Port": 9, "Protocol": "http", "Services": [{"Name": "db"}]}]
        status, text, _ = await request(
            srv, "PUT", "/v1/config", {"Kind": "ingress-gateway", "Name": "x", "Listeners": bad}
        )
        assert (status, text) == (
            500,
            'service "db" has protocol "tcp", which does not match defined listener protocol '
            '"http"',
        )

"""Discovery chains compiled as Consul compiles them (tables over config entries), and
`/v1/discovery-chain/<service>` through py-consul. The expected chains are those consul
1.10.11 answered for the same entries (its trust domain aside)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.catalog.inprocess import py_consul, running_catalog
from yurt.catalog.config_entries import ConfigEntry, decode
from yurt.catalog.discovery_chain import Overrides, compile_chain, protocol_of

TD = "11111111-2222-3333-4444-555555555555.consul"


def _lookup(*bodies: dict[str, Any]) -> Any:
    entries = {(e.kind, e.name): e for e in (decode(b) for b in bodies)}

    def get(kind: str, name: str) -> ConfigEntry | None:
        return entries.get((kind, name))

    return get


def _target(service: str, subset: str = "", timeout: str = "5s", dc: str = "dc1") -> Any:
    tid = f"{subset + '.' if subset else ''}{service}.default.{dc}"
    out: dict[str, Any] = {"ConnectTimeout": timeout, "ID": tid, "Service": service}
    if subset:
        out["ServiceSubset"] = subset
    out.update(
        {
            "Namespace": "default",
            "Datacenter": dc,
            "MeshGateway": {},
            "Subset": {"Filter": f"Service.Meta.version == {subset}"} if subset else {},
            "SNI": f"{tid}.internal.{TD}",
            "Name": f"{tid}.internal.{TD}",
        }
    )
    return out


def _resolver(tid: str, timeout: str = "5s", default: bool = True) -> Any:
    resolver: dict[str, Any] = {"ConnectTimeout": timeout}
    if default:
        resolver["Default"] = True
    resolver["Target"] = tid
    return {"Type": "resolver", "Name": tid, "Resolver": resolver}


HTTP_DEFAULTS = {"Kind": "proxy-defaults", "Config": {"protocol": "http"}}
RESOLVER = {
    "Kind": "service-resolver",
    "Name": "web",
    "ConnectTimeout": "15s",
    "Subsets": {
        "v1": {"Filter": "Service.Meta.version == v1"},
        "v2": {"Filter": "Service.Meta.version == v2"},
    },
}
SPLITTER = {
    "Kind": "service-splitter",
    "Name": "web",
    "Splits": [{"Weight": 50, "ServiceSubset": "v1"}, {"Weight": 50, "ServiceSubset": "v2"}],
}
ROUTER = {
    "Kind": "service-router",
    "Name": "web",
    "Routes": [{"Match": {"HTTP": {"PathPrefix": "/admin"}}, "Destination": {"Service": "admin"}}],
}


def test_the_default_chain() -> None:
    chain = compile_chain("db", "dc1", TD, _lookup())["Chain"]
    assert chain == {
        "ServiceName": "db",
        "Namespace": "default",
        "Datacenter": "dc1",
        "Protocol": "tcp",
        "StartNode": "resolver:db.default.dc1",
        "Nodes": {"resolver:db.default.dc1": _resolver("db.default.dc1")},
        "Targets": {"db.default.dc1": _target("db")},
    }


def test_router_splitter_and_resolver() -> None:
    chain = compile_chain("web", "dc1", TD, _lookup(HTTP_DEFAULTS, RESOLVER, SPLITTER, ROUTER))
    chain = chain["Chain"]
    assert chain["Protocol"] == "http"
    assert chain["StartNode"] == "router:web.default"
    assert chain["Nodes"] == {
        "resolver:admin.default.dc1": _resolver("admin.default.dc1"),
        "resolver:v1.web.default.dc1": _resolver("v1.web.default.dc1", "15s", default=False),
        "resolver:v2.web.default.dc1": _resolver("v2.web.default.dc1", "15s", default=False),
        "router:web.default": {
            "Type": "router",
            "Name": "web.default",
            "Routes": [
                {
                    "Definition": ROUTER["Routes"][0],
                    "NextNode": "resolver:admin.default.dc1",
                },
                {
                    "Definition": {
                        "Match": {"HTTP": {"PathPrefix": "/"}},
                        "Destination": {"Service": "web", "Namespace": "default"},
                    },
                    "NextNode": "splitter:web.default",
                },
            ],
        },
        "splitter:web.default": {
            "Type": "splitter",
            "Name": "web.default",
            "Splits": [
                {"Weight": 50, "NextNode": "resolver:v1.web.default.dc1"},
                {"Weight": 50, "NextNode": "resolver:v2.web.default.dc1"},
            ],
        },
    }
    assert chain["Targets"] == {
        "admin.default.dc1": _target("admin"),
        "v1.web.default.dc1": _target("web", "v1", "15s"),
        "v2.web.default.dc1": _target("web", "v2", "15s"),
    }


def test_a_redirect_starts_at_the_other_service() -> None:
    redirect = {"Kind": "service-resolver", "Name": "red", "Redirect": {"Service": "blue"}}
    chain = compile_chain("red", "dc1", TD, _lookup(redirect))["Chain"]
    assert chain["StartNode"] == "resolver:blue.default.dc1"
    assert list(chain["Targets"]) == ["blue.default.dc1"]
    assert chain["Nodes"]["resolver:blue.default.dc1"]["Resolver"]["Default"] is True


def test_a_default_subset_and_failover() -> None:
    resolver = {
        **RESOLVER,
        "DefaultSubset": "v1",
        "Failover": {"*": {"Datacenters": ["dc2", "dc3"]}},
    }
    chain = compile_chain("web", "dc1", TD, _lookup(resolver))["Chain"]
    assert chain["StartNode"] == "resolver:v1.web.default.dc1"
    node = chain["Nodes"]["resolver:v1.web.default.dc1"]["Resolver"]
    assert node["Failover"] == {"Targets": ["web.default.dc2", "web.default.dc3"]}
    assert chain["Targets"]["web.default.dc2"]["Datacenter"] == "dc2"


def test_a_tcp_service_ignores_routing() -> None:
    # entries that could not have been written (check_protocols refuses them) change nothing
    chain = compile_chain("web", "dc1", TD, _lookup(SPLITTER))["Chain"]
    assert chain["StartNode"] == "resolver:web.default.dc1"


PROTOCOLS = [
    ((), "tcp"),
    ((HTTP_DEFAULTS,), "http"),
    ((HTTP_DEFAULTS, {"Kind": "service-defaults", "Name": "web", "Protocol": "grpc"}), "grpc"),
]


@pytest.mark.parametrize(("bodies", "want"), PROTOCOLS)
def test_protocol(bodies: tuple[dict[str, Any], ...], want: str) -> None:
    assert protocol_of("web", _lookup(*bodies)) == want


def test_overrides() -> None:
    overrides = Overrides(protocol="http", connect_timeout="7s")
    chain = compile_chain("db", "dc1", TD, _lookup(), overrides)["Chain"]
    assert chain["Protocol"] == "http"
    assert len(chain["CustomizationHash"]) == 8
    assert chain["Targets"]["db.default.dc1"]["ConnectTimeout"] == "7s"
    assert chain["Nodes"]["resolver:db.default.dc1"]["Resolver"]["ConnectTimeout"] == "7s"


async def test_over_http_with_py_consul(tmp_path: Path) -> None:
    async with running_catalog(tmp_path) as srv, py_consul(srv) as c:
        for body in (HTTP_DEFAULTS, RESOLVER, SPLITTER, ROUTER):
            kind, name = body["Kind"], str(body.get("Name", "global"))
            rest = {k: v for k, v in body.items() if k not in ("Kind", "Name")}
            assert await c.config.set(kind, name, rest) is True
        answer = await c.discovery_chain.get("web")
        chain = answer["Chain"]
        assert chain["StartNode"] == "router:web.default"
        assert set(chain["Nodes"]) == {
            "resolver:admin.default.dc1",
            "resolver:v1.web.default.dc1",
            "resolver:v2.web.default.dc1",
            "router:web.default",
            "splitter:web.default",
        }
        sni = chain["Targets"]["admin.default.dc1"]["SNI"]
        assert sni.startswith("admin.default.dc1.internal.") and sni.endswith(".consul")
        custom = await c.discovery_chain.get(
            "db", override_protocol="grpc", override_connect_timeout="9s"
        )
        assert custom["Chain"]["Protocol"] == "grpc"
        assert custom["Chain"]["Targets"]["db.default.dc1"]["ConnectTimeout"] == "9s"
        # the plain read is not the overridden one
        plain = await c.discovery_chain.get("db")
        assert plain["Chain"]["Protocol"] == "http"
        assert "CustomizationHash" not in plain["Chain"]

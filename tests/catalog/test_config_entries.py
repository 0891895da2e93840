"""Config entries: Consul's decoding and validation (tables), and `/v1/config` through
py-consul (set with CAS, get, list, delete), with the status codes and texts the real
Consul answers (checked against consul 1.10.11 and Consul 1.17's source)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.catalog.inprocess import py_consul, request, running_catalog
from yurt.catalog.config_entries import DecodeError, ValidationError, decode
from yurt.catalog.config_entry_kinds import KINDS

# (body, the stored answer without indexes)
DECODED: list[tuple[dict[str, Any], dict[str, Any]]] = [
    (
        {"Kind": "service-defaults", "Name": "web", "Protocol": "http"},
        {
            "Kind": "service-defaults",
            "Name": "web",
            "Protocol": "http",
            "TransparentProxy": {},
            "MeshGateway": {},
            "Expose": {},
        },
    ),
    # snake_case and lower case keys, as Consul's decoder takes them
    (
        {
            "kind": "service-defaults",
            "name": "s",
            "protocol": "grpc",
            "mesh_gateway": {"mode": "local"},
        },
        {
            "Kind": "service-defaults",
            "Name": "s",
            "Protocol": "grpc",
            "TransparentProxy": {},
            "MeshGateway": {"Mode": "local"},
            "Expose": {},
        },
    ),
    # proxy-defaults is always named global
    (
        {"Kind": "proxy-defaults", "Config": {"protocol": "http"}},
        {
            "Kind": "proxy-defaults",
            "Name": "global",
            "Config": {"protocol": "http"},
            "TransparentProxy": {},
            "MeshGateway": {},
            "Expose": {},
        },
    ),
    # the mesh entry has no name in its answer
    (
        {"Kind": "mesh", "TransparentProxy": {"MeshDestinationsOnly": True}},
        {"Kind": "mesh", "TransparentProxy": {"MeshDestinationsOnly": True}},
    ),
    (
        {"Kind": "service-resolver", "Name": "r", "ConnectTimeout": "15s", "Subsets": {"v1": {}}},
        {"Kind": "service-resolver", "Name": "r", "Subsets": {"v1": {}}, "ConnectTimeout": "15s"},
    ),
    # durations in nanoseconds are answered as Go durations; weights as numbers
    (
        {"Kind": "service-resolver", "Name": "r", "ConnectTimeout": 2_000_000_000},
        {"Kind": "service-resolver", "Name": "r", "ConnectTimeout": "2s"},
    ),
    (
        {"Kind": "service-splitter", "Name": "s", "Splits": [{"Weight": 99.5}, {"Weight": 0.5}]},
        {"Kind": "service-splitter", "Name": "s", "Splits": [{"Weight": 99.5}, {"Weight": 0.5}]},
    ),
    # intentions get Consul's Type and Precedence
    (
        {"Kind": "service-intentions", "Name": "db", "Sources": [{"Name": "*", "Action": "deny"}]},
        {
            "Kind": "service-intentions",
            "Name": "db",
            "Sources": [{"Name": "*", "Action": "deny", "Precedence": 8, "Type": "consul"}],
        },
    ),
    (
        {"Kind": "ingress-gateway", "Name": "ig", "Listeners": [{"Port": 80, "Protocol": "tcp"}]},
        {
            "Kind": "ingress-gateway",
            "Name": "ig",
            "TLS": {"Enabled": False},
            "Listeners": [{"Port": 80, "Protocol": "tcp"}],
        },
    ),
]


@pytest.mark.parametrize(("body", "want"), DECODED)
def test_decode(body: dict[str, Any], want: dict[str, Any]) -> None:
    got = decode(body).to_json()
    assert {k: v for k, v in got.items() if not k.endswith("Index")} == want


DECODE_ERRORS = [
    ({"Name": "x"}, "Payload does not contain a kind/Kind key at the top level"),
    ({"Kind": 7}, "Kind value in payload is not a string"),
    ({"Kind": "nope", "Name": "web"}, "invalid config entry kind: nope"),
    (
        {"Kind": "service-defaults", "Name": "web", "Bogus": 1},
        '1 error occurred:\n\t* invalid config key "Bogus"\n\n',
    ),
    (
        {"Kind": "service-defaults", "Name": "web", "TransparentProxy": {"Bogus": 1}},
        '1 error occurred:\n\t* invalid config key "TransparentProxy.Bogus"\n\n',
    ),
    (
        {"Kind": "service-router", "Name": "web", "Routes": [{"Bogus": 1}]},
        '1 error occurred:\n\t* invalid config key "Routes[0].Bogus"\n\n',
    ),
    ({"Kind": "mesh", "Name": "mesh"}, '1 error occurred:\n\t* invalid config key "Name"\n\n'),
    (
        {"Kind": "service-defaults", "Name": "web", "A": 1, "B": 2},
        '2 errors occurred:\n\t* invalid config key "A"\n\t* invalid config key "B"\n\n',
    ),
]


@pytest.mark.parametrize(("body", "text"), DECODE_ERRORS)
def test_decode_refusals(body: dict[str, Any], text: str) -> None:
    with pytest.raises(DecodeError) as info:
        decode(body)
    assert str(info.value) == "Request decoding failed: " + text


INVALID = [
    ({"Kind": "service-defaults"}, "Name is required"),
    ({"Kind": "proxy-defaults", "Name": "web"}, 'invalid name ("web"), only "global" is supported'),
    ({"Kind": "service-splitter", "Name": "s", "Splits": []}, "no splits configured"),
    (
        {"Kind": "service-splitter", "Name": "s", "Splits": [{"Weight": 50}, {"Weight": 40}]},
        "the sum of all split weights must be 100, not 90.000000",
    ),
    (
        {"Kind": "service-resolver", "Name": "r", "DefaultSubset": "v9"},
        'DefaultSubset "v9" is not a valid subset',
    ),
    (
        {
            "Kind": "service-resolver",
            "Name": "r",
            "Redirect": {"Service": "x"},
            "Subsets": {"a": {}},
        },
        "Redirect and Subsets cannot both be set",
    ),
    (
        {
            "Kind": "service-router",
            "Name": "web",
            "Routes": [{"Match": {"HTTP": {"PathPrefix": "/a", "PathExact": "/b"}}}],
        },
        "Route[0] should only contain at most one of PathExact, PathPrefix, or PathRegex",
    ),
    (
        {
            "Kind": "service-router",
            "Name": "web",
            "Routes": [{"Match": {"HTTP": {"PathPrefix": "a"}}}],
        },
        "Route[0] PathPrefix doesn't start with '/': \"a\"",
    ),
    (
        {
            "Kind": "service-intentions",
            "Name": "db",
            "Sources": [{"Name": "web", "Action": "maybe"}],
        },
        "Sources[0].Action must be set to 'allow' or 'deny'",
    ),
    (
        {"Kind": "service-intentions", "Name": "db", "Sources": [{"Action": "allow"}]},
        "Sources[0].Name is required",
    ),
    (
        {
            "Kind": "service-intentions",
            "Name": "db",
            "Sources": [{"Name": "web", "Action": "allow"}, {"Name": "web", "Action": "deny"}],
        },
        'Sources[1] defines "web" more than once',
    ),
    (
        {"Kind": "ingress-gateway", "Name": "ig", "Listeners": [{"Port": 1, "Protocol": "udp"}]},
        "protocol must be 'tcp', 'http', 'http2', or 'grpc'. 'udp' is an unsupported protocol",
    ),
    (
        {"Kind": "ingress-gateway", "Name": "ig", "Listeners": [{"Port": 1}, {"Port": 1}]},
        "port 1 declared on two listeners",
    ),
    (
        {"Kind": "exported-services", "Name": "default", "Services": [{"Name": "web"}]},
        "Services[0]: must have at least one consumer",
    ),
]


@pytest.mark.parametrize(("body", "text"), INVALID)
def test_validation(body: dict[str, Any], text: str) -> None:
    with pytest.raises(ValidationError) as info:
        decode(body)
    assert str(info.value) == text


def test_every_kind_consul_has() -> None:
    # Consul 1.17's kinds (api/config_entry.go and its siblings)
    assert set(KINDS) == {
        "service-defaults",
        "proxy-defaults",
        "service-router",
        "service-splitter",
        "service-resolver",
        "ingress-gateway",
        "terminating-gateway",
        "service-intentions",
        "mesh",
        "exported-services",
        "api-gateway",
        "http-route",
        "tcp-route",
        "inline-certificate",
        "jwt-provider",
        "sameness-group",
        "control-plane-request-limit",
    }


# -- over HTTP -----------------------------------------------------------------------------------


async def test_set_get_list_delete_with_py_consul(tmp_path: Path) -> None:
    async with running_catalog(tmp_path) as srv, py_consul(srv) as c:
        assert await c.config.set("service-defaults", "web", {"Protocol": "http"}) is True
        entry = await c.config.get("service-defaults", "web")
        assert entry["Protocol"] == "http" and entry["MeshGateway"] == {}
        assert entry["CreateIndex"] == entry["ModifyIndex"] > 0
        # a CAS with a stale index loses; with the current one it wins
        assert await c.config.set("service-defaults", "web", {"Protocol": "grpc"}, cas=1) is False
        index = entry["ModifyIndex"]
        assert await c.config.set("service-defaults", "web", {"Protocol": "grpc"}, cas=index)
        again = await c.config.get("service-defaults", "web")
        assert again["Protocol"] == "grpc"
        assert again["CreateIndex"] == index and again["ModifyIndex"] > index
        # cas=0: only when absent
        assert await c.config.set("service-defaults", "api", {}, cas=0) is True
        assert await c.config.set("service-defaults", "api", {}, cas=0) is False
        names = [e["Name"] for e in await c.config.list("service-defaults")]
        assert names == ["api", "web"]
        assert await c.config.list("service-resolver") == []
        # delete with a stale CAS is refused, answered as a boolean; without CAS it is `{}`
        assert await c.config.delete("service-defaults", "api", cas=1) is False
        assert await c.config.delete("service-defaults", "api") is True
        status, body, _ = await request(srv, "DELETE", "/v1/config/service-defaults/api")
        assert (status, body) == (200, {})
        # py-consul answers a 404 read with None
        assert await c.config.get("service-defaults", "api") is None


async def test_http_errors_are_consuls(tmp_path: Path) -> None:
    async with running_catalog(tmp_path) as srv:
        status, body, headers = await request(srv, "GET", "/v1/config/service-defaults/nope")
        assert (status, body) == (404, 'Config entry not found for "service-defaults" / "nope"')
        assert int(headers["X-Consul-Index"]) >= 1
        status, body, _ = await request(srv, "GET", "/v1/config/nope")
        assert (status, body) == (500, "invalid config entry kind: nope")
        status, body, _ = await request(srv, "GET", "/v1/config/nope/x")
        assert (status, body) == (500, "invalid config entry kind: nope")
        status, body, _ = await request(srv, "PUT", "/v1/config", {"Kind": "nope", "Name": "x"})
        assert (status, body) == (
            400,
            "Bad request: Request decoding failed: invalid config entry kind: nope",
        )
        bad = {"Kind": "service-defaults", "Name": "web", "Bogus": 1}
        status, body, _ = await request(srv, "PUT", "/v1/config", bad)
        assert status == 400 and body.endswith('* invalid config key "Bogus"\n\n')
        split = {"Kind": "service-splitter", "Name": "web", "Splits": [{"Weight": 100}]}
        status, body, _ = await request(srv, "PUT", "/v1/config", split)
        assert (status, body) == (
            500,
            'discovery chain "web" uses a protocol "tcp" that does not permit advanced '
            "routing or splitting behavior",
        )


async def test_reads_block_until_the_kind_changes(tmp_path: Path) -> None:
    async with running_catalog(tmp_path) as srv:
        await request(srv, "PUT", "/v1/config", {"Kind": "service-defaults", "Name": "a"})
        _, _, headers = await request(srv, "GET", "/v1/config/service-defaults")
        index = int(headers["X-Consul-Index"])
        waiting = asyncio.ensure_future(
            request(srv, "GET", f"/v1/config/service-defaults?index={index}&wait=5s")
        )
        await asyncio.sleep(0.2)
        # another kind does not wake the reader
        await request(srv, "PUT", "/v1/config", {"Kind": "service-resolver", "Name": "x"})
        await asyncio.sleep(0.2)
        assert not waiting.done()
        await request(srv, "PUT", "/v1/config", {"Kind": "service-defaults", "Name": "b"})
        status, body, headers = await asyncio.wait_for(waiting, 5)
        assert status == 200 and [e["Name"] for e in body] == ["a", "b"]
        assert int(headers["X-Consul-Index"]) > index


async def test_entries_survive_a_restart(tmp_path: Path) -> None:
    async with running_catalog(tmp_path) as srv:
        await request(srv, "PUT", "/v1/config", {"Kind": "proxy-defaults", "Config": {"a": 1}})
    async with running_catalog(tmp_path) as srv:
        status, body, _ = await request(srv, "GET", "/v1/config/proxy-defaults/global")
        assert status == 200 and body["Config"] == {"a": 1}

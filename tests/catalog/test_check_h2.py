"""gRPC and H2PING checks: the protocol pieces (tables), the probes against a real HTTP/2
server on loopback (plain and TLS), and the checks registered through py-consul and run by
the agent. Output texts were checked against consul 1.10.11 probing the same server."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from consul import Check

from tests.catalog.h2_target import NOT_SERVING, h2_target, response_message, self_signed_context
from tests.catalog.inprocess import py_consul, request, running_catalog
from yurt.catalog.check_h2 import (
    decode_status,
    encode_request,
    grpc_error,
    probe_grpc,
    probe_h2ping,
    split_target,
)
from yurt.catalog.definitions import DefinitionError, parse_check


@pytest.mark.parametrize(
    ("target", "want"),
    [
        ("127.0.0.1:50051", ("127.0.0.1", 50051, "")),
        ("127.0.0.1:50051/my.Service", ("127.0.0.1", 50051, "my.Service")),
        ("[::1]:9/a/b", ("::1", 9, "a/b")),
    ],
)
def test_split_target(target: str, want: tuple[str, int, str]) -> None:
    assert split_target(target) == want


def test_split_target_without_port() -> None:
    with pytest.raises(ValueError, match="dial tcp: address nope: missing port in address"):
        split_target("nope")


@pytest.mark.parametrize(
    ("service", "wire"),
    [
        ("", b"\x00\x00\x00\x00\x00"),
        ("web", b"\x00\x00\x00\x00\x05\x0a\x03web"),
        ("x" * 200, b"\x00\x00\x00\x00\xcb\x0a\xc8\x01" + b"x" * 200),
    ],
)
def test_encode_request(service: str, wire: bytes) -> None:
    assert encode_request(service) == wire


@pytest.mark.parametrize(
    ("message", "status"),
    [
        (response_message(1), 1),
        (response_message(2), 2),
        (response_message(0), 0),  # proto3 leaves the default out
        # an unknown length-delimited field before the status is skipped
        (b"\x00\x00\x00\x00\x05\x12\x01z\x08\x01", 1),
    ],
)
def test_decode_status(message: bytes, status: int) -> None:
    assert decode_status(message) == status


@pytest.mark.parametrize("message", [b"\x00\x00", b"\x01\x00\x00\x00\x00"])
def test_decode_status_refuses(message: bytes) -> None:
    with pytest.raises(ValueError):
        decode_status(message)


def test_grpc_error_names() -> None:
    assert grpc_error(5, "unknown service") == "rpc error: code = NotFound desc = unknown service"
    assert grpc_error(99, "x") == "rpc error: code = Code(99) desc = x"


CHECKS = [
    ({"GRPC": "h:1", "Interval": "1s"}, "grpc", {"GRPC": "h:1", "GRPCUseTLS": False}),
    (
        {"GRPC": "h:1/s", "GRPCUseTLS": True, "Interval": "1s"},
        "grpc",
        {"GRPC": "h:1/s", "GRPCUseTLS": True},
    ),
    # Consul pings over TLS unless H2PingUseTLS is false
    ({"H2PING": "h:1", "Interval": "1s"}, "h2ping", {"H2PING": "h:1", "H2PingUseTLS": True}),
    (
        {"H2PING": "h:1", "H2PingUseTLS": False, "Interval": "1s"},
        "h2ping",
        {"H2PING": "h:1", "H2PingUseTLS": False},
    ),
]


@pytest.mark.parametrize(("body", "kind", "shown"), CHECKS)
def test_definitions(body: dict[str, Any], kind: str, shown: dict[str, Any]) -> None:
    check = parse_check({"Name": "c", **body}, node="n")
    assert check.definition.kind == kind
    got = check.definition.definition_json()
    assert {k: got[k] for k in shown} == shown
    assert got["Timeout"] == "10s"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"GRPC": "h:1"}, "Interval must be > 0"),
        ({"H2PING": "h:1"}, "Interval must be > 0"),
        ({"GRPC": "h:1", "TCP": "h:1", "Interval": "1s"}, "got TCP, GRPC"),
    ],
)
def test_bad_definitions(body: dict[str, Any], fragment: str) -> None:
    with pytest.raises(DefinitionError, match=fragment):
        parse_check({"Name": "c", **body}, node="n")


async def test_grpc_probe_plain() -> None:
    async with h2_target() as t:
        t.statuses["bad"] = NOT_SERVING
        addr = f"127.0.0.1:{t.port}"

        async def probe(target: str) -> tuple[str, str]:
            return await probe_grpc(target, use_tls=False, skip_verify=False, timeout_s=5)

        assert await probe(addr) == ("passing", f"gRPC check {addr}: success")
        assert await probe(addr + "/bad") == (
            "critical",
            f"gRPC {addr}/bad serving status: NOT_SERVING",
        )
        assert await probe(addr + "/nope") == (
            "critical",
            "rpc error: code = NotFound desc = unknown service",
        )
        assert t.calls == [
            "/grpc.health.v1.Health/Check ",
            "/grpc.health.v1.Health/Check bad",
            "/grpc.health.v1.Health/Check nope",
        ]
    status, output = await probe_grpc(addr, use_tls=False, skip_verify=False, timeout_s=5)
    assert status == "critical"
    assert output == (
        "rpc error: code = Unavailable desc = all SubConns are in TransientFailure, latest "
        'connection error: connection error: desc = "transport: Error while dialing dial tcp '
        f'{addr}: connect: connection refused"'
    )


async def test_tls_probes(tmp_path: Path) -> None:
    async with h2_target(self_signed_context(tmp_path)) as t:
        addr = f"127.0.0.1:{t.port}"
        got = await probe_grpc(addr, use_tls=True, skip_verify=True, timeout_s=5)
        assert got == ("passing", f"gRPC check {addr}: success")
        assert await probe_h2ping(addr, use_tls=True, skip_verify=True, timeout_s=5) == (
            "passing",
            "HTTP2 ping was successful",
        )
        # an unknown authority fails verification
        status, output = await probe_h2ping(addr, use_tls=True, skip_verify=False, timeout_s=5)
        assert status == "critical" and output.startswith(f"Failed to dial to {addr}: x509: ")
    async with h2_target() as plain:
        addr = f"127.0.0.1:{plain.port}"
        assert await probe_h2ping(addr, use_tls=False, skip_verify=False, timeout_s=5) == (
            "passing",
            "HTTP2 ping was successful",
        )
        # TLS against a plain server: Go's crypto/tls text, as Consul shows it
        assert await probe_h2ping(addr, use_tls=True, skip_verify=True, timeout_s=5) == (
            "critical",
            f"Failed to dial to {addr}: tls: first record does not look like a TLS handshake",
        )
        status, output = await probe_grpc(addr, use_tls=True, skip_verify=True, timeout_s=5)
        assert output.endswith(
            'desc = "transport: authentication handshake failed: tls: first record does not '
            'look like a TLS handshake"'
        )
    assert await probe_h2ping("nope", use_tls=False, skip_verify=False, timeout_s=1) == (
        "critical",
        "Failed to dial to nope: dial tcp: address nope: missing port in address",
    )


async def _wait_status(c: Any, check_id: str, want: str) -> dict[str, Any]:
    checks: dict[str, Any] = {}
    for _ in range(200):
        checks = await c.agent.checks()
        got = checks.get(check_id, {})
        # a new check is critical with no output until its first run
        if got.get("Status") == want and got.get("Output"):
            return dict(checks[check_id])
        await asyncio.sleep(0.05)
    raise AssertionError(f"{check_id} never became {want}: {checks.get(check_id)}")


async def test_agent_runs_grpc_and_h2ping_checks(tmp_path: Path) -> None:
    async with h2_target() as t, running_catalog(tmp_path) as srv, py_consul(srv) as c:
        t.statuses["db"] = NOT_SERVING
        addr = f"127.0.0.1:{t.port}"
        # py-consul's own Check.grpc builds the definition
        assert await c.agent.check.register("g", check=Check.grpc(addr, "10s")) is True
        got = await _wait_status(c, "g", "passing")
        assert got["Type"] == "grpc" and got["Output"] == f"gRPC check {addr}: success"
        await c.agent.service.register("db", port=t.port, check=Check.grpc(addr + "/db", "10s"))
        got = await _wait_status(c, "service:db", "critical")
        assert got["Output"] == f"gRPC {addr}/db serving status: NOT_SERVING"
        body = {"Name": "p", "H2PING": addr, "H2PingUseTLS": False, "Interval": "10s"}
        status, _, _ = await request(srv, "PUT", "/v1/agent/check/register", body)
        assert status == 200
        got = await _wait_status(c, "p", "passing")
        assert got["Type"] == "h2ping" and got["Output"] == "HTTP2 ping was successful"
        _, checks = await c.health.checks("db")
        assert checks[0]["Definition"]["GRPC"] == addr + "/db"

"""How the client turns a job's `check` blocks into Consul check definitions, as Nomad's
service client does (command/agent/consul's createCheckReg), by table."""

from __future__ import annotations

from typing import Any

import pytest

from yurt.client.services import _check

SID = "_nomad-task-a1-group-web-web-http"


@pytest.mark.parametrize(
    ("check", "want"),
    [
        (
            {"Type": "grpc", "Name": "g"},
            {"GRPC": "10.0.0.5:8080"},
        ),
        (
            {"Type": "grpc", "Name": "g", "GRPCService": "health.v1", "GRPCUseTLS": True},
            {"GRPC": "10.0.0.5:8080/health.v1", "GRPCUseTLS": True},
        ),
        (
            {"Type": "grpc", "Name": "g", "GRPCUseTLS": True, "TLSSkipVerify": True},
            {"GRPC": "10.0.0.5:8080", "GRPCUseTLS": True, "TLSSkipVerify": True},
        ),
        (
            {"Type": "tcp", "Name": "t"},
            {"TCP": "10.0.0.5:8080"},
        ),
        (
            {"Type": "http", "Name": "h", "Path": "health", "TLSSkipVerify": True},
            {"HTTP": "http://10.0.0.5:8080/health", "TLSSkipVerify": True},
        ),
    ],
)
def test_check_definitions(check: dict[str, Any], want: dict[str, Any]) -> None:
    got = _check(check, SID, "web", "10.0.0.5", 8080, [], "10.0.0.5")
    assert got is not None
    probe = {
        k: v for k, v in got.items() if k in ("GRPC", "GRPCUseTLS", "TLSSkipVerify", "TCP", "HTTP")
    }
    assert probe == want
    assert got["Name"] == check["Name"]
    assert got["Interval"] == "10s" and got["Timeout"] == "2s"


def test_a_check_type_consul_cannot_run_is_not_registered() -> None:
    assert _check({"Type": "docker"}, SID, "web", "10.0.0.5", 8080, [], "10.0.0.5") is None

"""Job files shaped like real-world Nomad jobs (tests/jobspec/cases/*.nomad) decode into
the expected documents: the parse output (`nomad job run -output`) and the canonical job,
each compared whole.

A case may have NAME.vars (JSON: "variables" for -var, "environ", "var_files").
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.jobspec.conftest import CASES, load_json
from yurt.jobspec import canonicalize, parse_job, validate

NAMES = sorted(p.stem for p in CASES.glob("*.nomad"))


def _parse(name: str) -> dict[str, Any]:
    path = CASES / f"{name}.nomad"
    kwargs: dict[str, Any] = {}
    vars_path = CASES / f"{name}.vars"
    if vars_path.exists():
        spec = load_json(vars_path)
        kwargs = {
            "variables": spec.get("variables"),
            "environ": spec.get("environ"),
            "var_files": [CASES / f for f in spec.get("var_files", [])],
        }
    return parse_job(path.read_text(), path.name, **kwargs)


def test_there_are_at_least_fifteen_cases() -> None:
    assert len(NAMES) >= 15


@pytest.mark.parametrize("name", NAMES)
def test_case_output_matches(name: str) -> None:
    assert _parse(name) == load_json(CASES / f"{name}.json")["Job"]


@pytest.mark.parametrize("name", NAMES)
def test_case_canonical_matches_and_validates(name: str) -> None:
    full = canonicalize(_parse(name))
    assert full == load_json(CASES / f"{name}.json")["Canonical"]
    assert canonicalize(full) == full
    assert validate(full).errors == []


def test_variables_precedence() -> None:
    job = _parse("variables")
    # -var beats the default; the var file beats the default; the environment fills the
    # variable without a default; a local merges them.
    assert job["TaskGroups"][0]["Count"] == 3
    assert job["Datacenters"] == ["dc1", "dc3"]
    task = job["TaskGroups"][0]["Tasks"][0]
    assert task["Config"] == {"image": "example/billing:1.4", "args": ["--name", "billing-ha"]}
    assert task["Env"] == {"team": "payments", "tier": "gold", "APP": "BILLING", "DEBUG": "1"}


def test_functions_case_values() -> None:
    meta = _parse("functions")["Meta"]
    assert meta["image"] == "registry.example.com/app:1.9.2"
    assert meta["regex"] == "major1"
    assert meta["config"] == '{"name":"svc","ports":[8080,9102]}'
    assert meta["math"] == "7"


def test_lone_task_gets_its_own_group_first() -> None:
    groups = _parse("lone_task")["TaskGroups"]
    assert [g["Name"] for g in groups] == ["solo", "grouped"]


def test_static_ports_move_to_reserved_ports() -> None:
    net = _parse("network_bridge")["TaskGroups"][0]["Networks"][0]
    assert [p["Label"] for p in net["ReservedPorts"]] == ["http"]
    assert [p["Label"] for p in net["DynamicPorts"]] == ["admin"]


def test_docker_config_blocks_become_lists() -> None:
    config = _parse("docker_config")["TaskGroups"][0]["Tasks"][0]["Config"]
    assert config["logging"] == [{"type": "json-file", "config": [{"max-size": "10m"}]}]


def test_heredoc_template_keeps_consul_template_syntax() -> None:
    tmpl = _parse("templates")["TaskGroups"][0]["Tasks"][0]["Templates"][0]
    assert tmpl["EmbeddedTmpl"] == (
        'listen = "0.0.0.0:{{ env "NOMAD_PORT_http" }}"\nalloc  = "{{ env "NOMAD_ALLOC_ID" }}"\n'
    )


def test_dynamic_blocks_expand_groups_and_driver_config() -> None:
    groups = _parse("dynamic")["TaskGroups"]
    assert [g["Name"] for g in groups] == ["web", "api"]
    config = groups[1]["Tasks"][0]["Config"]
    assert config["mount"] == [
        {"type": "volume", "source": "api-cache", "target": "/cache"},
        {"type": "volume", "source": "api-data", "target": "/data"},
    ]
    assert [g["Tasks"][0]["Env"]["PORT"] for g in groups] == ["low", "high"]


def test_template_directives_in_heredocs() -> None:
    tmpl = _parse("directives")["TaskGroups"][0]["Tasks"][0]["Templates"][0]
    assert tmpl["EmbeddedTmpl"] == (
        "frontend web\n"
        '  bind *:{{ env "NOMAD_PORT_http" }}\n'
        "  default_backend app\n"
        "backend app\n"
        "  server s0 10.0.0.1:80 check\n"
        "  server s1 10.0.0.2:80 check\n"
    )

"""The bodies of POST /v1/jobs/parse and PUT /v1/validate/job."""

from __future__ import annotations

import pytest

from tests.jobspec.conftest import EXPECTED, JOBS, load_json
from yurt.api.errors import APIError
from yurt.jobspec import canonicalize, parse_job
from yurt.jobspec.api import parse_request, validate_request

NGINX = (JOBS / "job.nginx.nomad").read_text()


def test_parse_returns_the_job_as_run_output_prints_it() -> None:
    assert parse_request({"JobHCL": NGINX}) == load_json(EXPECTED / "job.nginx.output.json")


def test_parse_canonicalize_applies_the_api_defaults_only() -> None:
    job = parse_request({"JobHCL": NGINX, "Canonicalize": True})
    server = load_json(EXPECTED / "job.nginx.canonical.json")
    assert job["TaskGroups"] == server["TaskGroups"]
    assert job["NodePool"] == "" and server["NodePool"] == "default"
    assert job["Priority"] == 50 and job["Namespace"] == "default"


def test_parse_with_variables_and_flags() -> None:
    hcl = (
        'variable "image" {}\nvariable "n" {\n  type = number\n}\n'
        'job "v" {\n  group "g" {\n    count = var.n\n    task "t" {\n'
        '      driver = "docker"\n      config { image = var.image }\n    }\n  }\n}\n'
    )
    job = parse_request(
        {"JobHCL": hcl, "Variables": 'image = "redis:7"\n', "VariableFlags": {"n": "2"}}
    )
    assert job["TaskGroups"][0]["Count"] == 2
    assert job["TaskGroups"][0]["Tasks"][0]["Config"] == {"image": "redis:7"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "Job HCL must be provided in JobHCL"),
        ({"JobHCL": 3}, "Job HCL must be provided in JobHCL"),
        ({"JobHCL": 'job "x" {'}, "input.hcl:1:10: unbalanced braces"),
        ({"JobHCL": 'job "x" {}', "Variables": 5}, "Variables must be a string"),
        ({"JobHCL": 'job "x" {}', "HCLv1": True}, "HCL1 job files are not supported"),
    ],
)
def test_parse_bad_input_is_a_400(body: dict[str, object], message: str) -> None:
    with pytest.raises(APIError) as info:
        parse_request(body)
    assert info.value.status == 400
    assert message in info.value.message


def test_validate_a_good_job() -> None:
    job = canonicalize(parse_job(NGINX, "job.nginx.nomad"))
    assert validate_request({"Job": job}) == {
        "DriverConfigValidated": True,
        "ValidationErrors": None,
        "Error": "",
        "Warnings": "",
    }


def test_validate_reports_errors_as_nomad_does() -> None:
    job = parse_job(NGINX, "job.nginx.nomad")
    job["TaskGroups"][0]["Tasks"][0]["Driver"] = ""
    job["Priority"] = 200
    answer = validate_request({"Job": job})
    assert answer["ValidationErrors"] == [
        "Job priority must be between [1, 100], got 200",
        'Task "task-docker-nginx" is missing a driver: add driver = "docker", "exec" or "raw_exec"',
    ]
    assert answer["Error"].startswith("2 errors occurred:\n\t* Job priority")


def test_validate_needs_a_job() -> None:
    with pytest.raises(APIError) as info:
        validate_request({"job": {}})
    assert info.value.status == 400 and info.value.message == "Job must be specified"


def test_validate_names_fields_of_the_wrong_json_type() -> None:
    job = {
        "ID": "x",
        "TaskGroups": [
            {
                "Name": "g",
                "Count": "two",
                "Tasks": [{"Name": "t", "Driver": "exec", "Resources": {"CPU": "a"}}],
            }
        ],
    }
    answer = validate_request({"Job": job})
    assert answer["ValidationErrors"] == [
        "TaskGroups[0].Count: expected a number, got a string",
        "TaskGroups[0].Tasks[0].Resources.CPU: expected a number, got a string",
    ]


def test_task_service_port_must_be_declared_in_the_group() -> None:
    job = {
        "ID": "x",
        "TaskGroups": [
            {
                "Name": "g",
                "Tasks": [
                    {
                        "Name": "t",
                        "Driver": "exec",
                        "Services": [{"Name": "s", "PortLabel": "http"}],
                    }
                ],
            }
        ],
    }
    answer = validate_request({"Job": job})
    assert answer["ValidationErrors"] == [
        'port "http" is used by service "s" but not declared in the group\'s network block'
    ]


def test_parse_canonicalize_keeps_a_batch_job_without_update() -> None:
    hcl = 'job "b" {\n  type = "batch"\n  group "g" {\n    task "t" { driver = "exec" }\n  }\n}\n'
    assert parse_request({"JobHCL": hcl, "Canonicalize": True})["Update"] is None

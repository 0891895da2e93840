"""Job files in HCL's JSON syntax decode exactly as their HCL twins do."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.jobspec.conftest import EXPECTED, load_json
from yurt.jobspec import JobspecError, parse_job

JSON_JOBS = Path(__file__).parent / "json"


def test_json_nginx_job_equals_the_hcl_one() -> None:
    path = JSON_JOBS / "job.nginx.json"
    assert parse_job(path.read_text(), str(path)) == load_json(EXPECTED / "job.nginx.output.json")


def test_json_templates_variables_and_escapes() -> None:
    text = """{
  "variable": {"image": {"type": "string", "default": "redis:7"},
               "ports": {"type": "list(number)", "default": [6379]}},
  "locals": {"name": "cache-${var.ports[0]}"},
  "job": {"j": {
    "meta": {"quote": "say \\"hi\\"", "expr": "${format(\\"%s!\\", local.name)}"},
    "constraint": [{"attribute": "${attr.kernel.name}", "value": "linux"},
                   {"distinct_hosts": true}],
    "task": {"solo": {
      "driver": "docker",
      "config": {"image": "${var.image}", "labels": {"a": "b"}},
      "env": {"PORT": "${NOMAD_PORT_db}", "LIT": "$${HOME}"}
    }}
  }}
}"""
    job = parse_job(text, "j.json", variables={"image": "redis:6"})
    assert job["Meta"] == {"quote": 'say "hi"', "expr": "cache-6379!"}
    assert [c["Operand"] for c in job["Constraints"]] == ["=", "distinct_hosts"]
    task = job["TaskGroups"][0]["Tasks"][0]
    assert task["Config"] == {"image": "redis:6", "labels": {"a": "b"}}
    assert task["Env"] == {"PORT": "${NOMAD_PORT_db}", "LIT": "${HOME}"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '{\n  "job": {\n    "x": {\n      "group": {\n        "g": {\n'
            '          "cuont": 2,\n          "task": {"t": {"driver": "exec"}}\n'
            "        }\n      }\n    }\n  }\n}\n",
            'x.json:6:11: Unsupported argument; An argument named "cuont" is not expected '
            'here. Did you mean "count"?',
        ),
        (
            '{\n  "job": {\n    "x": {\n      "priority": "high",\n      "group": {"g": {}}\n'
            "    }\n  }\n}\n",
            'x.json:4:19: "priority" in job "x": expected a number, got string "high"',
        ),
        ('{\n  "job": {\n    "x": {,\n', "x.json:3:11: invalid JSON: expected a quoted key"),
        (
            '{"job": {"x": {"group": "g"}}}',
            'x.json:1:25: "group" must be an object (a block), not a string',
        ),
    ],
)
def test_json_errors_point_into_the_json_file(text: str, expected: str) -> None:
    with pytest.raises(JobspecError) as info:
        parse_job(text, "x.json")
    assert str(info.value).splitlines()[0] == expected

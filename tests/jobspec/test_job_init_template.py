"""The job `nomad job init` writes in Nomad 1.9 (its blocks and values; `yurt job init`
writes it) parses and validates: the `ui` block with its link, `identity` with
`env`/`file`, a `provider = "nomad"` service on a mapped port, `migrate`,
`ephemeral_disk`, `restart`; the commented form decodes to the same job."""

from __future__ import annotations

from yurt.jobspec import parse_job
from yurt.jobspec.api import validate_request
from yurt.jobspec.init_template import FULL, SHORT

SECOND = 1_000_000_000


def test_the_nomad_1_9_init_template_parses_into_nomads_api_job() -> None:
    job = parse_job(SHORT, "example.nomad.hcl")
    assert (job["ID"], job["Datacenters"], job["Type"]) == ("example", ["*"], "service")
    assert job["UI"] == {
        "Description": "Nomad **Example** Job",
        "Links": [
            {"Label": "Learn more about Nomad", "URL": "https://developer.hashicorp.com/nomad"}
        ],
    }
    (group,) = job["TaskGroups"]
    assert group["Networks"][0]["DynamicPorts"] == [
        {"Label": "db", "Value": 0, "To": 6379, "HostNetwork": ""}
    ]
    (service,) = group["Services"]
    assert (service["Name"], service["PortLabel"], service["Provider"]) == (
        "redis-cache",
        "db",
        "nomad",
    )
    assert job["Migrate"]["HealthyDeadline"] == 300 * SECOND
    assert group["EphemeralDisk"]["SizeMB"] == 300
    assert (group["RestartPolicy"]["Attempts"], group["RestartPolicy"]["Mode"]) == (2, "fail")
    (task,) = group["Tasks"]
    assert task["Identity"]["Env"] is True and task["Identity"]["File"] is True
    assert task["Config"] == {"image": "redis:7", "ports": ["db"], "auth_soft_fail": True}
    assert (task["Resources"]["CPU"], task["Resources"]["MemoryMB"]) == (500, 256)


def test_the_nomad_1_9_init_template_validates_without_errors_or_warnings() -> None:
    job = parse_job(SHORT, "example.nomad.hcl")
    answer = validate_request({"Job": job})
    assert answer["ValidationErrors"] is None and answer["Error"] == ""
    assert answer["Warnings"] == ""


def test_the_commented_form_is_the_same_job() -> None:
    assert FULL != SHORT and "#" not in SHORT
    assert parse_job(FULL, "example.nomad.hcl") == parse_job(SHORT, "example.nomad.hcl")

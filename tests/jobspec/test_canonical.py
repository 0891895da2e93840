"""Nomad's register defaults, field by field, per job type."""

from __future__ import annotations

from typing import Any

import pytest

from yurt.jobspec import canonicalize, parse_job

S = 1_000_000_000


def _job(job_type: str, extra: str = "") -> dict[str, Any]:
    text = f"""
job "j" {{
  type = "{job_type}"
  {extra}
  group "g" {{
    task "t" {{
      driver = "raw_exec"
      config {{ command = "/bin/true" }}
    }}
  }}
}}
"""
    return canonicalize(parse_job(text, "j.nomad"))


def test_job_level_defaults() -> None:
    j = _job("service")
    assert (j["Region"], j["Namespace"], j["Priority"], j["NodePool"]) == (
        "global",
        "default",
        50,
        "default",
    )
    assert j["Datacenters"] == ["*"]
    assert j["AllAtOnce"] is False and j["Stop"] is False
    assert j["Update"]["MaxParallel"] == 1 and j["Update"]["Stagger"] == 30 * S


def test_service_group_defaults() -> None:
    g = _job("service")["TaskGroups"][0]
    assert g["Count"] == 1
    assert g["RestartPolicy"] == {
        "Interval": 1800 * S,
        "Attempts": 2,
        "Delay": 15 * S,
        "Mode": "fail",
        "RenderTemplates": False,
    }
    assert g["ReschedulePolicy"] == {
        "Attempts": 0,
        "Interval": 0,
        "Delay": 30 * S,
        "DelayFunction": "exponential",
        "MaxDelay": 3600 * S,
        "Unlimited": True,
    }
    assert g["Migrate"] == {
        "MaxParallel": 1,
        "HealthCheck": "checks",
        "MinHealthyTime": 10 * S,
        "HealthyDeadline": 300 * S,
    }
    assert g["EphemeralDisk"] == {"Sticky": False, "Migrate": False, "SizeMB": 300}
    assert g["Update"]["ProgressDeadline"] == 600 * S
    t = g["Tasks"][0]
    assert (t["Resources"]["CPU"], t["Resources"]["MemoryMB"]) == (100, 300)
    assert t["KillTimeout"] == 5 * S
    assert t["LogConfig"] == {"MaxFiles": 10, "MaxFileSizeMB": 10, "Disabled": False}
    assert t["RestartPolicy"] == g["RestartPolicy"]


def test_batch_group_defaults() -> None:
    j = _job("batch")
    # Job.Update is a plain struct on the server: zero for a job without update strategy.
    assert j["Update"] == {
        "Stagger": 0,
        "MaxParallel": 0,
        "HealthCheck": "",
        "MinHealthyTime": 0,
        "HealthyDeadline": 0,
        "ProgressDeadline": 0,
        "Canary": 0,
        "AutoRevert": False,
        "AutoPromote": False,
    }
    g = j["TaskGroups"][0]
    assert g["RestartPolicy"]["Attempts"] == 3 and g["RestartPolicy"]["Interval"] == 86400 * S
    assert g["ReschedulePolicy"] == {
        "Attempts": 1,
        "Interval": 86400 * S,
        "Delay": 5 * S,
        "DelayFunction": "constant",
        "MaxDelay": 0,
        "Unlimited": False,
    }
    assert g["Migrate"] is None and g["Update"] is None


def test_system_jobs_have_no_reschedule_policy() -> None:
    g = _job("system")["TaskGroups"][0]
    assert g["ReschedulePolicy"] is None
    assert g["RestartPolicy"]["Attempts"] == 2


def test_sysbatch_jobs_get_the_zero_reschedule_policy() -> None:
    # api.TaskGroup.Canonicalize skips only "system"; sysbatch gets the all-zero policy.
    g = _job("sysbatch")["TaskGroups"][0]
    assert g["ReschedulePolicy"] == {
        "Attempts": 0,
        "Interval": 0,
        "Delay": 0,
        "DelayFunction": "",
        "MaxDelay": 0,
        "Unlimited": False,
    }
    assert g["RestartPolicy"]["Attempts"] == 3


def test_job_update_is_merged_into_groups() -> None:
    j = _job("service", "update {\n max_parallel = 3\n canary = 1\n }")
    u = j["TaskGroups"][0]["Update"]
    assert (u["MaxParallel"], u["Canary"], u["HealthCheck"]) == (3, 1, "checks")


def test_job_reschedule_is_merged_into_groups() -> None:
    j = _job("service", 'reschedule {\n attempts = 5\n interval = "1h"\n unlimited = false\n }')
    r = j["TaskGroups"][0]["ReschedulePolicy"]
    assert (r["Attempts"], r["Interval"], r["Unlimited"], r["DelayFunction"]) == (
        5,
        3600 * S,
        False,
        "exponential",
    )


def test_service_and_check_defaults() -> None:
    text = """
job "web" {
  group "api" {
    network { port "http" {} }
    service {
      port = "http"
      check {
        type = "http"
        path = "/health"
        interval = "5s"
        timeout = "1s"
      }
      check_restart { limit = 3 }
    }
    task "srv" {
      driver = "raw_exec"
      config { command = "x" }
      service { port = "http" }
    }
  }
}
"""
    g = canonicalize(parse_job(text, "web.nomad"))["TaskGroups"][0]
    s = g["Services"][0]
    assert s["Name"] == "web-api"
    assert (s["AddressMode"], s["Provider"], s["OnUpdate"], s["Cluster"]) == (
        "auto",
        "consul",
        "require_healthy",
        "default",
    )
    check = s["Checks"][0]
    assert check["OnUpdate"] == "require_healthy"
    assert check["CheckRestart"] == {"Limit": 3, "Grace": S, "IgnoreWarnings": False}
    assert g["Tasks"][0]["Services"][0]["Name"] == "web-api-srv"
    assert g["Networks"][0]["DynamicPorts"][0]["HostNetwork"] == "default"


def test_cores_leave_cpu_zero() -> None:
    text = (
        'job "c" {\n group "g" {\n task "t" {\n'
        ' driver = "exec"\n resources { cores = 2 }\n }\n }\n}\n'
    )
    r = canonicalize(parse_job(text, "c.nomad"))["TaskGroups"][0]["Tasks"][0]["Resources"]
    assert (r["Cores"], r["CPU"], r["MemoryMB"]) == (2, 0, 300)


def test_canonicalize_returns_a_new_dict_and_is_idempotent() -> None:
    job = parse_job('job "x" {\n group "g" {\n task "t" { driver = "exec" }\n }\n}\n', "x")
    before = repr(job)
    full = canonicalize(job)
    assert repr(job) == before
    assert canonicalize(full) == full


@pytest.mark.parametrize(
    "job",
    [
        {"ID": "x", "TaskGroups": {"g": {}}},
        {"ID": "x", "TaskGroups": ["g"]},
        {"ID": "x", "Update": "fast", "TaskGroups": []},
        {"ID": "x", "TaskGroups": [{"Name": "g", "Tasks": [{"Name": "t", "Resources": 5}]}]},
    ],
)
def test_malformed_jobs_come_back_unchanged_for_validate_to_report(job: dict[str, Any]) -> None:
    from yurt.jobspec import validate

    assert canonicalize(job) == job
    assert validate(job).errors

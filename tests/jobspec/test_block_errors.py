"""Job files HCL1 rejected and jobspec2 or the server reject too: bad and overlapping
static ports, a check header that is not a list, invalid group and task scaling blocks,
a bad disconnect block. Each case is a file and the diagnostics `yurt job validate`
prints, at file:line:column, in Nomad's words."""

from __future__ import annotations

import pytest

from yurt.jobspec import JobspecError, check_job


def _errors(text: str) -> list[str]:
    with pytest.raises(JobspecError) as info:
        check_job(text, "x.nomad")
    return str(info.value).splitlines()


def _task_job(task_body: str, group_body: str = "", job_type: str = "service") -> str:
    return (
        'job "x" {\n'
        f'  type = "{job_type}"\n'
        '  group "g" {\n'
        f"{group_body}"
        '    task "t" {\n'
        '      driver = "exec"\n'
        f"{task_body}"
        "    }\n"
        "  }\n"
        "}\n"
    )


PORTS = """      resources {
        network {
          port "one" {
            static = 1
          }
          port "" {}
        }
      }
"""

OVERLAP_GROUP = """    network {
      port "http" {
        static = 8080
      }
    }
"""

OVERLAP_TASK = """      resources {
        network {
          port "web" {
            static = 8080
          }
        }
      }
"""

HEADER = """      service {
        check {
          type     = "http"
          path     = "/"
          interval = "10s"
          timeout  = "2s"
          header {
            Authorization = "Should be a []string!"
          }
        }
      }
"""

CASES = [
    (
        "bad port label in a task network",
        _task_job(PORTS),
        ['x.nomad:11:11: Port label "" must contain only letters, digits and underscores'],
    ),
    (
        "static port reserved by the group and a task",
        _task_job(OVERLAP_TASK, OVERLAP_GROUP),
        ["x.nomad:14:13: Static port 8080 already reserved by taskgroup network:http"],
    ),
    (
        "check header given as a string",
        _task_job(HEADER),
        [
            'x.nomad:13:29: "Authorization": expected a list of strings such as ["a"], '
            'got string "Should be a []string!"'
        ],
    ),
    (
        "group scaling without max",
        _task_job("", "    scaling {\n      min = 1\n    }\n"),
        [
            'x.nomad:4:5: Missing required argument; The argument "max" is required, but no '
            "definition was found."
        ],
    ),
    (
        "group scaling of a vertical type",
        _task_job("", '    scaling {\n      max  = 3\n      type = "vertical_cpu"\n    }\n'),
        [
            "x.nomad:6:14: Invalid group scaling type; task group scaling policy had invalid "
            'type: "vertical_cpu"'
        ],
    ),
    (
        "group count above the scaling maximum",
        _task_job("", "    count = 5\n    scaling {\n      min = 1\n      max = 3\n    }\n"),
        [
            "x.nomad:5:5: Scaling policy invalid: task group count must not be greater than "
            "maximum count in scaling policy"
        ],
    ),
    (
        "group scaling minimum above the maximum",
        _task_job("", "    count = 2\n    scaling {\n      min = 4\n      max = 3\n    }\n"),
        [
            "x.nomad:5:5: Scaling policy invalid: maximum count must not be less than minimum "
            "count",
            "x.nomad:5:5: Scaling policy invalid: task group count must not be less than "
            "minimum count in scaling policy",
        ],
    ),
    (
        "group scaling with a label",
        _task_job("", '    scaling "foo" {\n      max = 3\n    }\n'),
        ["x.nomad:4:5: Extraneous label for scaling; No labels are expected for scaling blocks."],
    ),
    (
        "task scaling without a name",
        _task_job("      scaling {\n        max = 3\n      }\n"),
        ["x.nomad:6:7: Missing name for scaling; All scaling blocks must have 1 labels (name)."],
    ),
    (
        "task scaling with an unknown name",
        _task_job('      scaling "disk" {\n        max = 3\n      }\n'),
        ['x.nomad:6:7: Invalid scaling policy name; scaling policy name must be "cpu" or "mem"'],
    ),
    (
        "task scaling declared twice",
        _task_job(
            '      scaling "cpu" {\n        max = 3\n      }\n'
            '      scaling "cpu" {\n        max = 4\n      }\n'
        ),
        ['x.nomad:9:7: Duplicate scaling "cpu" block; Only one scaling cpu block is allowed.'],
    ),
    (
        "task scaling of the other type",
        _task_job(
            '      scaling "cpu" {\n        max  = 3\n        type = "vertical_mem"\n      }\n'
        ),
        [
            "x.nomad:6:7: Invalid scaling policy type; Invalid policy type, expected "
            '"vertical_mem" but found "vertical_cpu"'
        ],
    ),
    (
        "disconnect with both lost_after and stop_on_client_after, and a bad reconcile",
        _task_job(
            "",
            '    disconnect {\n      lost_after           = "1h"\n'
            '      stop_on_client_after = "1m"\n      reconcile            = "newest"\n'
            "    }\n",
            "system",
        ),
        [
            "x.nomad:4:5: Disconnect cannot be configured with both lost_after and stop_after",
            "x.nomad:4:5: stop_after can only be used with service or batch job types",
            "x.nomad:7:7: reconcile option is invalid",
        ],
    ),
]


@pytest.mark.parametrize(
    ("text", "expected"), [pytest.param(t, e, id=name) for name, t, e in CASES]
)
def test_rejected_as_nomad_rejects(text: str, expected: list[str]) -> None:
    assert _errors(text) == expected


def test_a_header_list_with_a_number_is_converted_as_hcl_converts_it() -> None:
    body = HEADER.replace('"Should be a []string!"', '["ok", 840]').replace(
        "      service {\n", "      service {\n        port = 8080\n"
    )
    parsed, _ = check_job(_task_job(body), "x.nomad")
    check = parsed.job["TaskGroups"][0]["Tasks"][0]["Services"][0]["Checks"][0]
    assert check["Header"] == {"Authorization": ["ok", "840"]}

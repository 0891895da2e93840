"""Broken job files: every problem is reported, each with its file:line:column."""

from __future__ import annotations

from pathlib import Path

import pytest

from yurt.jobspec import JobspecError, check_job, parse_job

BROKEN = Path(__file__).parent / "broken"


def _errors(name: str, **kwargs: object) -> list[str]:
    text = (BROKEN / name).read_text()
    with pytest.raises(JobspecError) as info:
        check_job(text, name, **kwargs)  # type: ignore[arg-type]
    return str(info.value).splitlines()


def test_typos_wrong_types_and_bad_durations_are_all_reported() -> None:
    assert _errors("typo.nomad") == [
        'typo.nomad:3:3: Unsupported argument; An argument named "tpye" is not expected here. '
        'Did you mean "type"?',
        'typo.nomad:5:13: "count" in group "group-webs": expected a number, got string "three"',
        'typo.nomad:6:5: Unsupported block type; Blocks of type "netwrok" are not expected '
        'here. Did you mean "network"?',
        'typo.nomad:13:22: "kill_timeout" in task "web": invalid duration "5 seconds": '
        "missing unit (use one of ns, us, ms, s, m, h)",
        'typo.nomad:19:9: Unsupported argument; An argument named "memroy" is not expected '
        'here. Did you mean "memory"?',
    ]


def test_server_checks_point_at_the_offending_block_or_field() -> None:
    assert _errors("semantic.nomad") == [
        'semantic.nomad:5:9: Port "http": static port 70000 is out of range; use 1-65535',
        'semantic.nomad:10:7: port "htp" is used by service "service-nginx" but not declared '
        "in the group's network block",
        'semantic.nomad:11:7: Service "service-nginx" check "check 1": missing interval '
        "(at least 1s)",
        'semantic.nomad:16:5: Task "web" is missing a driver: add driver = "docker", "exec" '
        'or "raw_exec"',
        'semantic.nomad:21:5: Task 2 redefines "web" from task 1 in group "group-webs"',
    ]


def test_type_errors_undeclared_variables_and_functions() -> None:
    assert _errors("types.nomad") == [
        'types.nomad:2:17: "datacenters" in job "x": expected a list of strings such as '
        '["a"], got string "dc1"',
        'types.nomad:3:14: "priority" in job "x": expected a number, got bool',
        "types.nomad:5:17: Reference to undeclared input variable; An input variable with the "
        'name "n" has not been declared. This variable can be declared with a variable "n" {} '
        "block.",
        'types.nomad:8:13: "env" in task "t": expected a map of strings, got list',
        "types.nomad:10:13: upper(): wrong number or type of arguments (got 2)",
        'types.nomad:11:13: Call to unknown function; There is no function named "nosuch".',
    ]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "unbalanced.nomad",
            "unbalanced.nomad:7:1: unbalanced braces: the file ends before a block is closed "
            'with "}"',
        ),
        ("extra_brace.nomad", 'extra_brace.nomad:8:1: unbalanced braces: unexpected "}"'),
        (
            "unterminated.nomad",
            "unterminated.nomad:4:17: unterminated string: this quoted string is never closed",
        ),
        (
            "noeq.nomad",
            'noeq.nomad:4:20: expected "{" to open a block, or "=" to set an attribute',
        ),
    ],
)
def test_syntax_errors(name: str, expected: str) -> None:
    assert _errors(name) == [expected]


def test_missing_value_is_not_called_an_unterminated_string() -> None:
    with pytest.raises(JobspecError) as info:
        check_job('job "x" {\n  priority = \n  group "g" {}\n}\n', "x.nomad")
    assert str(info.value) == "x.nomad:2:14: unexpected end of line; expected a value"


def test_error_holds_structured_diagnostics() -> None:
    with pytest.raises(JobspecError) as info:
        parse_job('job "x" {\n  group "g" {\n    cuont = 2\n  }\n}\n', "x.nomad")
    (diag,) = info.value.diagnostics
    assert (diag.filename, diag.line, diag.column) == ("x.nomad", 3, 5)
    assert diag.message == (
        'Unsupported argument; An argument named "cuont" is not expected here. '
        'Did you mean "count"?'
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            'job "x" {\n  group "g" {\n    task "t" { driver = "exec" }\n    task "t" '
            '{ driver = "exec" }\n  }\n}\n',
            'x.nomad:4:5: Task 2 redefines "t"',
        ),
        (
            'job "x" {\n  type = "cron"\n  group "g" {\n    task "t" { driver = "exec" }\n  }\n}\n',
            'x.nomad:2:3: Invalid job type: "cron"',
        ),
        (
            'job "x" {\n  group "g" {\n    count = -1\n    task "t" { driver = "exec" }\n  }\n}\n',
            'x.nomad:3:5: Task group "g": count can\'t be negative',
        ),
        (
            'job "x" {\n  periodic {\n    cron = "* * *"\n  }\n  group "g" {\n    task "t" '
            '{ driver = "exec" }\n  }\n}\n',
            'x.nomad:2:3: Periodic can only be used with "batch"',
        ),
        (
            'job "x" {\n  type = "batch"\n  periodic {\n    crons = ["* * *"]\n  }\n'
            '  group "g" {\n    task "t" { driver = "exec" }\n  }\n}\n',
            'x.nomad:4:5: Invalid cron spec "* * *": expected 5 to 7 fields, got 3',
        ),
        (
            'job "x" {\n  group "g" {\n    task "t" {\n      driver = "exec"\n      resources '
            "{\n        memory = 5\n      }\n    }\n  }\n}\n",
            'x.nomad:6:9: task "t": minimum MemoryMB value is 10; got 5',
        ),
        (
            'job "x" {\n  group "g" {\n    task "t" {\n      driver = "exec"\n      template '
            '{\n        data = "x"\n      }\n    }\n  }\n}\n',
            'x.nomad:5:7: task "t": template 1 needs a destination',
        ),
        (
            'job "x" {\n  group "g" {\n    service {\n      port = "http"\n      check {\n'
            '        type = "icmp"\n      }\n    }\n    task "t" { driver = "exec" }\n  }\n}\n',
            'x.nomad:4:7: port "http" is used by service "x-g" but not declared',
        ),
        (
            'job "x" {\n  group "g" {\n    task "t" {\n      driver = "exec"\n      lifecycle '
            '{\n        hook = "prestrat"\n      }\n    }\n  }\n}\n',
            'x.nomad:6:9: task "t": invalid lifecycle hook "prestrat"',
        ),
        (
            'job "x" {\n  group "g" {\n    task "t" {\n      driver = "exec"\n      volume_mount '
            '{\n        volume = "data"\n      }\n    }\n  }\n}\n',
            'x.nomad:6:9: task "t": volume_mount refers to volume "data"',
        ),
    ],
)
def test_server_side_checks(text: str, message: str) -> None:
    with pytest.raises(JobspecError) as info:
        check_job(text, "x.nomad")
    assert any(line.startswith(message) for line in str(info.value).splitlines()), str(info.value)


def test_variables_problems() -> None:
    text = 'variable "n" {\n  type = number\n}\njob "x" {\n  group "g" {\n    count = var.n\n'
    text += '    task "t" { driver = "exec" }\n  }\n}\n'
    with pytest.raises(JobspecError) as info:
        parse_job(text, "v.nomad")
    assert str(info.value) == (
        'v.nomad:1:1: Unset variable "n"; A used variable must be set or have a default '
        "value; see https://www.nomadproject.io/docs/job-specification/hcl2/variables for "
        "details."
    )
    with pytest.raises(JobspecError) as info:
        parse_job(text, "v.nomad", variables={"n": "many"})
    assert str(info.value) == "v.nomad:1:1: -var n: expected number, got string"
    with pytest.raises(JobspecError) as info:
        parse_job(text, "v.nomad", variables={"n": "2", "m": "3"})
    assert str(info.value) == 'v.nomad:1:1: -var m: no variable "m" is declared in v.nomad'


def test_several_job_blocks_and_stray_top_level_attributes() -> None:
    text = 'name = "x"\njob "a" {\n  group "g" {\n    task "t" { driver = "exec" }\n  }\n}\n'
    text += 'job "b" {\n}\n'
    with pytest.raises(JobspecError) as info:
        parse_job(text, "two.nomad")
    lines = str(info.value).splitlines()
    assert lines[0] == (
        'two.nomad:1:1: Unsupported argument; An argument named "name" is not expected here.'
    )
    assert lines[1] == "two.nomad:7:1: only one job block is allowed in a file"


def test_duplicate_blocks() -> None:
    text = (
        'job "x" {\n  group "g" {\n    volume "d" {\n      type = "host"\n    }\n'
        '    volume "d" {\n      type = "host"\n    }\n    restart {}\n    restart {}\n'
        '    task "t" { driver = "exec" }\n  }\n}\n'
    )
    with pytest.raises(JobspecError) as info:
        parse_job(text, "x.nomad")
    assert str(info.value).splitlines() == [
        'x.nomad:6:5: volume "d" is declared twice in group "g"',
        "x.nomad:10:5: Duplicate restart block; Only one restart block is allowed. Another was "
        "defined at x.nomad:9:5.",
    ]

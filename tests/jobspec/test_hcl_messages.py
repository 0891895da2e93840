"""Error texts in HCL's and Nomad's words after file:line:column, each case checked
against the message `nomad job run -output` prints for the same file."""

from __future__ import annotations

import pytest

from yurt.jobspec import JobspecError, parse_job


def _task(body: str) -> str:
    return (
        'job "j" {\n  group "g" {\n    task "t" {\n      driver = "exec"\n'
        f"{body}"
        "    }\n  }\n}\n"
    )


CASES = [
    (
        "unknown argument, with a suggestion",
        'job "j" {\n  tpye = "service"\n}\n',
        'j.nomad:2:3: Unsupported argument; An argument named "tpye" is not expected here. '
        'Did you mean "type"?',
    ),
    (
        "unknown block, with a suggestion",
        'job "j" {\n  group "g" {\n    netwrok {\n    }\n  }\n}\n',
        'j.nomad:3:5: Unsupported block type; Blocks of type "netwrok" are not expected here. '
        'Did you mean "network"?',
    ),
    (
        "a block written as an argument",
        _task("      resources = {\n        cpu = 100\n      }\n"),
        'j.nomad:5:7: Unsupported argument; An argument named "resources" is not expected '
        'here. Did you mean to define a block of type "resources"?',
    ),
    (
        "an argument written as a block",
        _task("      driver {\n      }\n").replace('      driver = "exec"\n', ""),
        'j.nomad:4:7: Unsupported block type; Blocks of type "driver" are not expected here. '
        'Did you mean to define argument "driver"? If so, use the equals sign to assign it a '
        "value.",
    ),
    (
        "env as an argument and a block",
        _task('      env = { A = "1" }\n      env {\n        B = "2"\n      }\n'),
        "j.nomad:6:7: Duplicate env block; env may not be defined more than once. Another "
        "definition is defined at j.nomad:5:7.",
    ),
    (
        "a single block given twice",
        _task("      logs {\n      }\n      logs {\n      }\n"),
        "j.nomad:7:7: Duplicate logs block; Only one logs block is allowed. Another was "
        "defined at j.nomad:5:7.",
    ),
    (
        "a variable without a value",
        'variable "x" {\n  type = string\n}\n' + _task("      user = var.x\n"),
        'j.nomad:1:1: Unset variable "x"; A used variable must be set or have a default '
        "value; see https://www.nomadproject.io/docs/job-specification/hcl2/variables for "
        "details.",
    ),
    (
        "an undeclared variable",
        _task("      user = var.nope\n"),
        "j.nomad:5:18: Reference to undeclared input variable; An input variable with the "
        'name "nope" has not been declared. This variable can be declared with a variable '
        '"nope" {} block.',
    ),
    (
        "an unknown function",
        _task('      user = uper("x")\n'),
        'j.nomad:5:14: Call to unknown function; There is no function named "uper". Did you '
        'mean "upper"?',
    ),
    (
        "a file function where files are not allowed",
        _task('      user = file("user.txt")\n'),
        "j.nomad:5:14: file(): filesystem function disabled",
    ),
]


@pytest.mark.parametrize(("text", "expected"), [pytest.param(t, e, id=n) for n, t, e in CASES])
def test_message_in_hcl_words(text: str, expected: str) -> None:
    with pytest.raises(JobspecError) as info:
        parse_job(text, "j.nomad")
    assert str(info.value) == expected

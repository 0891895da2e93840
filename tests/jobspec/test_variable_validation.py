"""`variable` validation blocks, as jobspec2 checks them (each case checked against
`nomad job run -output`): the message must be a sentence, the condition must refer to
the variable, and a value that fails the condition is refused with the message."""

from __future__ import annotations

import pytest

from yurt.jobspec import JobspecError, parse_job

SENTENCE = (
    "Validation error message must be at least one full sentence starting with an "
    "uppercase letter ( if the alphabet permits it ) and ending with a period or question "
    "mark."
)


def _job(condition: str, message: str, default: str = "-1") -> str:
    return (
        'variable "n" {\n'
        "  type    = number\n"
        f"  default = {default}\n"
        "  validation {\n"
        f"    condition     = {condition}\n"
        f"    error_message = {message}\n"
        "  }\n"
        "}\n"
        'job "j" {\n  group "g" {\n    count = var.n\n'
        '    task "t" {\n      driver = "exec"\n    }\n  }\n}\n'
    )


def _position(line: str) -> tuple[int, int]:
    _file, row, column, _rest = line.split(":", 3)
    return int(row), int(column)


CASES = [
    (
        "empty message",
        _job("var.n > 0", '""'),
        [
            "v.nomad:6:21: Invalid validation error message; An empty string is not a valid "
            "nor useful error message.",
            "v.nomad:3:13: Invalid value for default variable;  This was checked by the "
            "validation rule at v.nomad:4:3.",
        ],
    ),
    (
        "blank message",
        _job("var.n > 0", '"   "'),
        [
            f"v.nomad:6:21: Invalid validation error message; {SENTENCE}",
            "v.nomad:3:13: Invalid value for default variable;     This was checked by the "
            "validation rule at v.nomad:4:3.",
        ],
    ),
    (
        "message that is not a sentence",
        _job("var.n > 0", '"must be positive"'),
        [
            f"v.nomad:6:21: Invalid validation error message; {SENTENCE}",
            "v.nomad:3:13: Invalid value for default variable; must be positive This was "
            "checked by the validation rule at v.nomad:4:3.",
        ],
    ),
    (
        "value that fails the condition",
        _job("var.n > 0", '"Must be positive."'),
        [
            "v.nomad:3:13: Invalid value for default variable; Must be positive. This was "
            "checked by the validation rule at v.nomad:4:3.",
        ],
    ),
    (
        "condition that does not test the variable",
        _job("1 > 0", '"Must be positive."'),
        [
            "v.nomad:5:21: Invalid variable validation condition; The condition for variable "
            '"n" must refer to var.n in order to test incoming values.',
        ],
    ),
]


@pytest.mark.parametrize(("text", "expected"), [pytest.param(t, e, id=n) for n, t, e in CASES])
def test_invalid_rules_and_values_are_refused(text: str, expected: list[str]) -> None:
    with pytest.raises(JobspecError) as info:
        parse_job(text, "v.nomad")
    # yurt lists diagnostics in file order.
    assert str(info.value).splitlines() == sorted(expected, key=_position)


def test_a_value_that_passes_is_used() -> None:
    job = parse_job(_job("var.n > 0", '"Must be positive."', default="3"), "v.nomad")
    assert job["TaskGroups"][0]["Count"] == 3


def test_a_value_given_with_var_is_checked_as_a_variable() -> None:
    with pytest.raises(JobspecError) as info:
        parse_job(
            _job("var.n > 0", '"Must be positive."', default="3"), "v.nomad", variables={"n": "-5"}
        )
    assert str(info.value) == (
        "v.nomad:1:1: Invalid value for variable; Must be positive. This was checked by the "
        "validation rule at v.nomad:4:3."
    )

"""Diagnostic texts in HCL's and Nomad's own words ("Summary; Detail", as `nomad job run`
prints them after file:line:column), so that a message found in their documentation or
issues is the message yurt gives."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from yurt.jobspec.diagnostics import Pos

VARIABLES_DOCS = "https://www.nomadproject.io/docs/job-specification/hcl2/variables"


def suggestion(word: str, choices: Iterable[str]) -> str:
    """HCL's ' Did you mean "x"?' for the closest known name, or nothing."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f' Did you mean "{close[0]}"?' if close else ""


def unsupported_argument(name: str, known: Iterable[str], blocks: Iterable[str]) -> str:
    if name in set(blocks):
        hint = f' Did you mean to define a block of type "{name}"?'
    else:
        hint = suggestion(name, known)
    return f'Unsupported argument; An argument named "{name}" is not expected here.{hint}'


def unsupported_block(name: str, known: Iterable[str], attributes: Iterable[str]) -> str:
    if name in set(attributes):
        hint = (
            f' Did you mean to define argument "{name}"? If so, use the equals sign to '
            "assign it a value."
        )
    else:
        hint = suggestion(name, known)
    return f'Unsupported block type; Blocks of type "{name}" are not expected here.{hint}'


def duplicate_block(name: str, filename: str, other: Pos, *, other_is_attribute: bool) -> str:
    where = f"{filename}:{other.line}:{other.column}"
    if other_is_attribute:
        # jobspec2's decodeAsAttribute, for env and meta given both ways.
        return (
            f"Duplicate {name} block; {name} may not be defined more than once. Another "
            f"definition is defined at {where}."
        )
    return (
        f"Duplicate {name} block; Only one {name} block is allowed. Another was defined at {where}."
    )


def unset_variable(name: str) -> str:
    return (
        f'Unset variable "{name}"; A used variable must be set or have a default value; see '
        f"{VARIABLES_DOCS} for details."
    )


def undeclared_variable(name: str) -> str:
    return (
        "Reference to undeclared input variable; An input variable with the name "
        f'"{name}" has not been declared. This variable can be declared with a variable '
        f'"{name}" {{}} block.'
    )


def unknown_function(name: str, known: Iterable[str]) -> str:
    return (
        f'Call to unknown function; There is no function named "{name}".{suggestion(name, known)}'
    )


def label_count(block_type: str, got: int, want: int) -> str:
    """HCL's words for a block with too many or too few labels."""
    if got > want:
        if want == 0:
            detail = f"No labels are expected for {block_type} blocks."
        else:
            detail = f"Only {want} labels (name) are expected for {block_type} blocks."
        return f"Extraneous label for {block_type}; {detail}"
    return f"Missing name for {block_type}; All {block_type} blocks must have {want} labels (name)."

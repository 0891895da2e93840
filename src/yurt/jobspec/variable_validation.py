"""A `variable` block's `validation { condition, error_message }` rules, checked once the
variable has its value, with HCL's (Terraform's) rules and words: the condition must refer
to the variable, the message must be a sentence, and a false condition is an error that
shows the message."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lark import Tree

from yurt.jobspec.diagnostics import Collector
from yurt.jobspec.evaluate import EvalError, Scope, evaluate
from yurt.jobspec.syntax import Block, Expr, pos_of
from yurt.jobspec.variables import Variable

_BAD_MESSAGE = "Invalid validation error message"


def check_validations(
    declared: Mapping[str, Variable],
    values: Mapping[str, Any],
    scope: Scope,
    collector: Collector,
) -> None:
    for name, var in declared.items():
        for rule in var.validations:
            _check_rule(var, rule, values, scope, collector, name)


def _check_rule(
    var: Variable,
    rule: Block,
    values: Mapping[str, Any],
    scope: Scope,
    collector: Collector,
    name: str,
) -> None:
    attrs = rule.body.attributes
    for key in ("condition", "error_message"):
        if key not in attrs:
            collector.error(
                rule.pos,
                f'Missing required argument; The argument "{key}" is required, but no '
                "definition was found.",
            )
    for key, attr in attrs.items():
        if key not in ("condition", "error_message"):
            collector.error(
                attr.pos,
                f'Unsupported argument; An argument named "{key}" is not expected here.',
            )
    message = _message(attrs["error_message"].expr, collector) if "error_message" in attrs else ""
    if "condition" not in attrs:
        return
    condition = attrs["condition"].expr
    if not _refers_to(condition, name):
        collector.error(
            pos_of(condition),
            f'Invalid variable validation condition; The condition for variable "{name}" '
            f"must refer to var.{name} in order to test incoming values.",
        )
        return
    if name not in values:
        return  # reported as missing already
    try:
        result = evaluate(condition, scope)
    except EvalError as exc:
        collector.error(exc.pos, exc.message)
        return
    if not isinstance(result, bool):
        collector.error(
            pos_of(condition),
            "Invalid variable validation result; The validation condition must return a boolean.",
        )
        return
    if not result:
        from_default = var.has_default and values[name] == var.default
        what = "default variable" if from_default else "variable"
        where = var.default_pos if from_default and var.default_pos else var.pos
        collector.error(
            where,
            f"Invalid value for {what}; {message} This was checked by the validation rule "
            f"at {collector.filename}:{rule.pos.line}:{rule.pos.column}.",
        )


def _message(expr: Expr, collector: Collector) -> str:
    try:
        value = evaluate(expr, Scope({}, {}, {}))
    except EvalError as exc:
        collector.error(exc.pos, exc.message)
        return ""
    text = value if isinstance(value, str) else str(value)
    if text == "":
        collector.error(
            pos_of(expr),
            f"{_BAD_MESSAGE}; An empty string is not a valid nor useful error message.",
        )
    elif not _looks_like_sentences(text):
        collector.error(
            pos_of(expr),
            f"{_BAD_MESSAGE}; Validation error message must be at least one full sentence "
            "starting with an uppercase letter ( if the alphabet permits it ) and ending "
            "with a period or question mark.",
        )
    return text


def _looks_like_sentences(text: str) -> bool:
    first, last = text[0], text[-1]
    if first.isalpha() and not first.isupper():
        return False
    return last in ".?!"


def _refers_to(expr: Expr, name: str) -> bool:
    """Whether the expression contains the traversal var.<name>."""
    if not isinstance(expr, Tree):
        return False
    for node in expr.iter_subtrees():
        if node.data != "get_attr_expr_term":
            continue
        base, accessor = node.children[0], node.children[1]
        while isinstance(base, Tree) and base.data == "expr_term" and len(base.children) == 1:
            base = base.children[0]
        if (
            isinstance(base, Tree)
            and base.data == "identifier"
            and str(base.children[0]) == "var"
            and str(accessor.children[1].children[0]) == name
        ):
            return True
    return False

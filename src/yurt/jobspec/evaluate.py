"""Evaluation of HCL2 expressions as Nomad's jobspec2 does it.

`var.x` and `local.y` are computed; any other reference (`attr.kernel.name`,
`NOMAD_PORT_http`, `meta.rack`, `node.datacenter`) is a runtime value for the client to
fill in, so it evaluates to the string "${<reference>}", as jobspec2's UnknownVariable
hook does. Values are plain Python: str, int, float, bool, None, list, dict.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from lark import Token, Tree

from yurt.jobspec import hcl_messages, limits
from yurt.jobspec.diagnostics import Pos
from yurt.jobspec.syntax import Expr, pos_of, unescape


class EvalError(Exception):
    """An expression that cannot be computed, with where."""

    def __init__(self, pos: Pos, message: str) -> None:
        super().__init__(message)
        self.pos = pos
        self.message = message


Function = Callable[..., Any]


class Scope:
    """What names mean while evaluating: variables, locals (lazily computed), functions."""

    def __init__(
        self,
        variables: Mapping[str, Any],
        locals_: Mapping[str, Expr],
        functions: Mapping[str, Function],
    ) -> None:
        self.variables = variables
        self._local_exprs = locals_
        self._local_values: dict[str, Any] = {}
        self._computing: set[str] = set()
        self.functions = functions
        self.iterators: list[dict[str, Any]] = []

    def local(self, name: str, pos: Pos) -> Any:
        if name in self._local_values:
            return self._local_values[name]
        expr = self._local_exprs.get(name)
        if expr is None:
            raise EvalError(pos, f'undeclared local "{name}": add it to a locals block')
        if name in self._computing:
            raise EvalError(pos, f'local "{name}" refers to itself')
        if len(self._computing) >= limits.MAX_EXPR_DEPTH:
            budget = limits.current()
            raise limits.LimitError(
                budget.filename if budget else "",
                pos,
                f"locals refer to one another more than {limits.MAX_EXPR_DEPTH} deep",
            )
        self._computing.add(name)
        try:
            value = evaluate(expr, self)
        finally:
            self._computing.discard(name)
        self._local_values[name] = value
        return value


def evaluate(node: Expr, scope: Scope) -> Any:
    """Compute an expression node."""
    if isinstance(node, Token):
        raise EvalError(pos_of(node), f"unexpected {node!s}")
    kind = node.data
    handler = _HANDLERS.get(kind)
    if handler is None:
        raise EvalError(pos_of(node), f"unsupported expression ({kind})")
    budget = limits.current()
    if budget is None:
        return handler(node, scope)
    budget.step(node)
    value = handler(node, scope)
    if kind in _BUILDERS:
        budget.check_value(value, node)
    return value


def _expr_term(node: Tree[Any], scope: Scope) -> Any:
    inner = [c for c in node.children if isinstance(c, Tree) and c.data != "new_line_or_comment"]
    return evaluate(inner[0], scope)


def _int(node: Tree[Any], scope: Scope) -> Any:
    text = str(node.children[0])
    if len(text) > 155:
        # 2^512 has 155 digits; int() of a very long literal costs quadratic time.
        raise EvalError(pos_of(node), f"this number is larger than 2^{limits.MAX_NUMBER_BITS}")
    return int(text)


def _float(node: Tree[Any], scope: Scope) -> Any:
    value = float(str(node.children[0]))
    return int(value) if value.is_integer() else value


def _literal(node: Tree[Any], scope: Scope) -> Any:
    return {"true": True, "false": False, "null": None}[str(node.children[0])]


def _string(node: Tree[Any], scope: Scope) -> Any:
    parts = [c for c in node.children if isinstance(c, Tree) and c.data == "string_part"]
    return _template(parts, scope)


def _template(parts: list[Tree[Any]], scope: Scope) -> Any:
    from yurt.jobspec.template import render, segments_from_string

    return render(segments_from_string(parts), scope)


def to_string(value: Any, pos: Pos) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        return value
    if value is None:
        raise EvalError(pos, "cannot use a null value in a string")
    raise EvalError(pos, f"cannot use a {type_name(value)} value in a string")


def type_name(value: Any, *, article: bool = False) -> str:
    """The HCL type name of a JSON value ("bool", "number", ...); with `article`, as a
    message says it ("a number", "an object"), null staying "null"."""
    if isinstance(value, bool):
        name = "bool"
    elif isinstance(value, int | float):
        name = "number"
    elif isinstance(value, str):
        name = "string"
    elif isinstance(value, list):
        name = "list"
    elif isinstance(value, dict):
        name = "object"
    else:
        return "null"
    if not article:
        return name
    return f"an {name}" if name[0] in "aeiou" else f"a {name}"


def _heredoc(node: Tree[Any], scope: Scope) -> Any:
    token = node.children[0]
    raw = str(token)
    trim = node.data == "heredoc_template_trim"
    first_nl = raw.index("\n")
    body_and_end = raw[first_nl + 1 :]
    lines = body_and_end.rstrip("\r\n").split("\n")
    content_lines = lines[:-1]  # the last line is the closing marker
    if trim:
        indents = [len(ln) - len(ln.lstrip(" \t")) for ln in content_lines if ln.strip()]
        cut = min(indents) if indents else 0
        content_lines = [ln[cut:] for ln in content_lines]
    text = "".join(ln + "\n" for ln in content_lines)
    line = token.line if isinstance(token, Token) and token.line else 1
    from yurt.jobspec.template import render, segments_from_text

    # Heredoc text always ends with a newline, so it is a string even when it holds
    # nothing but one interpolation.
    return render(segments_from_text(text, Pos(line + 1, 1)), scope)


def _tuple(node: Tree[Any], scope: Scope) -> Any:
    return [
        evaluate(c, scope)
        for c in node.children
        if isinstance(c, Tree) and c.data != "new_line_or_comment"
    ]


def _object(node: Tree[Any], scope: Scope) -> Any:
    out: dict[str, Any] = {}
    for elem in node.children:
        if not (isinstance(elem, Tree) and elem.data == "object_elem"):
            continue
        key_node = elem.children[0]
        value_node = elem.children[-1]
        out[_object_key(key_node, scope)] = evaluate(value_node, scope)
    return out


def _object_key(node: Tree[Any], scope: Scope) -> str:
    inner = node.children[0]
    if isinstance(inner, Tree) and inner.data == "expr_term":
        term = inner.children[0]
        if isinstance(term, Tree) and term.data == "identifier":
            return str(term.children[0])
        return to_string(evaluate(inner, scope), pos_of(node))
    if isinstance(inner, Tree) and inner.data == "keyword":
        return str(inner.children[0])
    return to_string(evaluate(inner, scope), pos_of(node))


def _identifier(node: Tree[Any], scope: Scope) -> Any:
    name = str(node.children[0])
    for frame in reversed(scope.iterators):
        if name in frame:
            return frame[name]
    if name in ("var", "local"):
        raise EvalError(pos_of(node), f'"{name}" must be followed by a name, as in {name}.x')
    return "${" + name + "}"


def _traversal(node: Tree[Any], scope: Scope) -> Any:
    """Attribute access and indexing, with runtime references passed through as text."""
    root, steps = _flatten_traversal(node)
    if isinstance(root, Tree) and root.data == "identifier":
        name = str(root.children[0])
        in_iter = any(name in frame for frame in scope.iterators)
        if not in_iter and name in ("var", "local"):
            if not steps or steps[0][0] != "attr":
                raise EvalError(pos_of(node), f"{name} must be followed by .name")
            key, key_pos = steps[0][1], steps[0][2]
            if name == "var":
                if key not in scope.variables:
                    raise EvalError(key_pos, hcl_messages.undeclared_variable(key))
                value = scope.variables[key]
            else:
                value = scope.local(key, key_pos)
            return _apply_steps(value, steps[1:], scope)
        if not in_iter:
            return "${" + _reference_text(root, steps, scope) + "}"
    value = evaluate(root, scope)
    return _apply_steps(value, steps, scope)


def is_runtime_reference(node: Expr, scope: Scope) -> bool:
    """Whether an expression is only a reference whose root the job file does not define
    (not var, local or an iterator): a value the client fills in at run time."""
    if not isinstance(node, Tree):
        return False
    root, steps = _flatten_traversal(node)
    if not (isinstance(root, Tree) and root.data == "identifier"):
        return False
    for kind, key, _pos in steps:
        if kind == "expr" and any(n.data == "identifier" for n in key.iter_subtrees()):
            # An index computed from the file's own values is not verbatim text.
            return False
    name = str(root.children[0])
    return name not in ("var", "local") and not any(name in f for f in scope.iterators)


def _flatten_traversal(node: Tree[Any]) -> tuple[Expr, list[tuple[str, Any, Pos]]]:
    steps: list[tuple[str, Any, Pos]] = []
    current: Expr = node
    while isinstance(current, Tree) and current.data in (
        "get_attr_expr_term",
        "index_expr_term",
        "expr_term",
    ):
        if current.data == "expr_term":
            inner = [
                c
                for c in current.children
                if isinstance(c, Tree) and c.data != "new_line_or_comment"
            ]
            if (
                len(current.children) == 1
                and isinstance(inner[0], Tree)
                and inner[0].data
                in (
                    "get_attr_expr_term",
                    "index_expr_term",
                )
            ):
                current = inner[0]
                continue
            if (
                len(current.children) == 1
                and isinstance(inner[0], Tree)
                and inner[0].data == ("identifier")
            ):
                current = inner[0]
            break
        base, accessor = current.children[0], current.children[1]
        if current.data == "get_attr_expr_term":
            name_node = accessor.children[1]
            steps.insert(0, ("attr", str(name_node.children[0]), pos_of(name_node)))
        elif accessor.data == "short_index":
            steps.insert(0, ("index", int(str(accessor.children[1])), pos_of(accessor)))
        else:
            expr = next(
                c
                for c in accessor.children
                if isinstance(c, Tree) and c.data != "new_line_or_comment"
            )
            steps.insert(0, ("expr", expr, pos_of(accessor)))
        current = base
    return current, steps


def _reference_text(root: Tree[Any], steps: list[tuple[str, Any, Pos]], scope: Scope) -> str:
    text = str(root.children[0])
    for kind, key, _pos in steps:
        if kind == "attr":
            text += "." + key
        elif kind == "index":
            text += f"[{key}]"
        else:
            value = evaluate(key, scope)
            text += f'["{value}"]' if isinstance(value, str) else f"[{value}]"
    return text


def _apply_steps(value: Any, steps: list[tuple[str, Any, Pos]], scope: Scope) -> Any:
    for kind, key, pos in steps:
        if kind == "expr":
            key = evaluate(key, scope)
        if isinstance(value, dict):
            k = to_string(key, pos)
            if k not in value:
                raise EvalError(pos, f'this object has no attribute "{k}"')
            value = value[k]
        elif isinstance(value, list):
            if isinstance(key, str) and key.isdigit():
                key = int(key)
            if not isinstance(key, int) or isinstance(key, bool):
                raise EvalError(pos, "a list index must be a number")
            if not 0 <= key < len(value):
                raise EvalError(pos, f"index {key} is out of range for a list of {len(value)}")
            value = value[key]
        else:
            raise EvalError(pos, f"cannot index a {type_name(value)} value")
    return value


def _function_call(node: Tree[Any], scope: Scope) -> Any:
    name = str(node.children[0].children[0])
    pos = pos_of(node)
    func = scope.functions.get(name)
    if func is None:
        raise EvalError(pos, hcl_messages.unknown_function(name, scope.functions))
    args: list[Any] = []
    expand = False
    for child in node.children[1:]:
        if isinstance(child, Tree) and child.data == "arguments":
            for a in child.children:
                if isinstance(a, Tree) and a.data != "new_line_or_comment":
                    args.append(evaluate(a, scope))
                elif isinstance(a, Token) and a.type == "ELLIPSIS":
                    expand = True
    if expand:
        if not args or not isinstance(args[-1], list):
            raise EvalError(pos, "... must follow a list argument")
        args = args[:-1] + args[-1]
    try:
        return func(*args)
    except EvalError:
        raise
    except TypeError:
        raise EvalError(
            pos, f"{name}(): wrong number or type of arguments (got {len(args)})"
        ) from None
    except (ValueError, KeyError, IndexError) as exc:
        detail = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        raise EvalError(pos, f"{name}(): {detail}") from None


def _conditional(node: Tree[Any], scope: Scope) -> Any:
    parts = [c for c in node.children if isinstance(c, Tree) and c.data != "new_line_or_comment"]
    cond = evaluate(parts[0], scope)
    return evaluate(parts[1] if truthy(cond, pos_of(parts[0])) else parts[2], scope)


def truthy(value: Any, pos: Pos) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return str(value) == "true"
    raise EvalError(pos, f"a condition must be a bool, got {type_name(value)}")


def _number(value: Any, pos: Pos) -> int | float:
    if isinstance(value, bool):
        raise EvalError(pos, "expected a number, got bool")
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            try:
                return float(value)
            except ValueError:
                pass
    raise EvalError(pos, f"expected a number, got {type_name(value)} {value!r}")


def _unary(node: Tree[Any], scope: Scope) -> Any:
    op = str(node.children[0])
    value = evaluate(node.children[1], scope)
    if op == "!":
        return not truthy(value, pos_of(node))
    return -_number(value, pos_of(node))


def _binary(node: Tree[Any], scope: Scope) -> Any:
    left = evaluate(node.children[0], scope)
    term = node.children[1]
    op = str(term.children[0].children[0]).strip()
    right_node = [c for c in term.children[1:] if isinstance(c, Tree)][-1]
    pos = pos_of(node)
    if op == "&&":
        return truthy(left, pos) and truthy(evaluate(right_node, scope), pos)
    if op == "||":
        return truthy(left, pos) or truthy(evaluate(right_node, scope), pos)
    right = evaluate(right_node, scope)
    if op == "==":
        return left == right
    if op == "!=":
        return left != right
    a, b = _number(left, pos), _number(right, pos)
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        if b == 0:
            raise EvalError(pos, "division by zero")
        result = a / b
        return int(result) if result.is_integer() else result
    if op == "%":
        return a % b
    return {"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op]


def _for_tuple(node: Tree[Any], scope: Scope) -> Any:
    return _for(node, scope, as_object=False)


def _for_object(node: Tree[Any], scope: Scope) -> Any:
    return _for(node, scope, as_object=True)


def _for(node: Tree[Any], scope: Scope, *, as_object: bool) -> Any:
    parts = [c for c in node.children if isinstance(c, Tree) and c.data != "new_line_or_comment"]
    intro = parts[0]
    names = [
        str(c.children[0]) for c in intro.children if isinstance(c, Tree) and c.data == "identifier"
    ]
    coll_node = next(
        c
        for c in intro.children
        if isinstance(c, Tree) and c.data not in ("identifier", "new_line_or_comment")
    )
    collection = evaluate(coll_node, scope)
    cond = next((p for p in parts if p.data == "for_cond"), None)
    exprs = [p for p in parts[1:] if p.data != "for_cond"]
    items = (
        list(collection.items()) if isinstance(collection, dict) else list(enumerate(collection))
    )
    out_list: list[Any] = []
    out_obj: dict[str, Any] = {}
    for k, v in items:
        frame = {names[0]: v} if len(names) == 1 else {names[0]: k, names[1]: v}
        scope.iterators.append(frame)
        try:
            if cond is not None:
                cexpr = next(
                    c
                    for c in cond.children
                    if isinstance(c, Tree) and c.data != "new_line_or_comment"
                )
                if not truthy(evaluate(cexpr, scope), pos_of(cond)):
                    continue
            if as_object:
                key = to_string(evaluate(exprs[0], scope), pos_of(exprs[0]))
                out_obj[key] = evaluate(exprs[1], scope)
            else:
                out_list.append(evaluate(exprs[0], scope))
        finally:
            scope.iterators.pop()
    return out_obj if as_object else out_list


def _splat(node: Tree[Any], scope: Scope) -> Any:
    base = evaluate(node.children[0], scope)
    splat = node.children[1]
    items = base if isinstance(base, list) else ([] if base is None else [base])
    out = []
    for item in items:
        value = item
        for acc in splat.children[1:]:
            if isinstance(acc, Tree) and acc.data == "get_attr":
                value = _apply_steps(
                    value, [("attr", str(acc.children[1].children[0]), pos_of(acc))], scope
                )
        out.append(value)
    return out


def _template_string(node: Tree[Any], scope: Scope) -> Any:
    return unescape(str(node.children[0])[2:-2])


# The node kinds that build new values (others pass existing ones on): their results are
# measured against the size limits.
_BUILDERS = frozenset(
    {
        "string",
        "heredoc_template",
        "heredoc_template_trim",
        "tuple",
        "object",
        "function_call",
        "binary_op",
        "unary_op",
        "for_tuple_expr",
        "for_object_expr",
        "attr_splat_expr_term",
        "full_splat_expr_term",
    }
)

_HANDLERS: dict[str, Callable[[Tree[Any], Scope], Any]] = {
    "expr_term": _expr_term,
    "int_lit": _int,
    "float_lit": _float,
    "literal_value": _literal,
    "string": _string,
    "heredoc_template": _heredoc,
    "heredoc_template_trim": _heredoc,
    "tuple": _tuple,
    "object": _object,
    "identifier": _identifier,
    "get_attr_expr_term": _traversal,
    "index_expr_term": _traversal,
    "function_call": _function_call,
    "conditional": _conditional,
    "unary_op": _unary,
    "binary_op": _binary,
    "for_tuple_expr": _for_tuple,
    "for_object_expr": _for_object,
    "attr_splat_expr_term": _splat,
    "full_splat_expr_term": _splat,
    "template_string": _template_string,
}

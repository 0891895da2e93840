"""What `yurt var` reads and prints, as `nomad var` does (command/var*.go): variable
specifications (HCL or JSON), `key=value` items (`@file`, `-` for stdin), and a variable
rendered as a table, HCL, JSON or a Go template. Pure: no HTTP, no files but those named."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from yurt.cli.output import format_kv, format_list, format_unix_nano
from yurt.client.gotemplate import TemplateError, parse, render
from yurt.jobspec.diagnostics import JobspecError
from yurt.jobspec.evaluate import EvalError, Scope, evaluate
from yurt.jobspec.functions import functions
from yurt.jobspec.syntax import parse_body

Obj = dict[str, Any]

INVALID_IN = 'Invalid value for "-in"; valid values are [hcl, json]'
INVALID_OUT = 'Invalid value for "-out"; valid values are [go-template, hcl, json, none, table]'
MISSING_TEMPLATE = "A template must be supplied using '-template' when using go-template formatting"
UNEXPECTED_TEMPLATE = "The '-template' flag is only valid when using 'go-template' formatting"
NO_MATCHES = "No matching variables found"
NOT_FOUND = "Variable not found"
WILDCARD = 'The wildcard namespace ("*") is not valid for this command.'
SPEC_KEYS = ("namespace", "path", "create_index", "modify_index", "create_time", "modify_time")


class SpecError(ValueError):
    pass


def check_output(out: str, template: str) -> str | None:
    """The error of an `-out`/`-template` pair, or None."""
    if out != "go-template" and template:
        return UNEXPECTED_TEMPLATE
    if out not in ("go-template", "hcl", "json", "none", "table"):
        return INVALID_OUT
    if out == "go-template" and not template:
        return MISSING_TEMPLATE
    return None


def format_for(path: str) -> str | None:
    """The spec format a file's extension names (None: unknown, use `-in`)."""
    suffix = Path(path).suffix
    return {".json": "json", ".hcl": "hcl"}.get(suffix)


# --- specifications ---------------------------------------------------------------------


def parse_spec(text: str, fmt: str) -> Obj:
    """A variable specification -> Nomad's API variable (Namespace, Path, indexes, Items)."""
    if fmt == "json":
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SpecError(f"error unmarshaling json: {exc}") from None
        if not isinstance(doc, dict):
            raise SpecError("error unmarshaling json: expected an object")
        return doc
    if fmt == "hcl":
        return _parse_hcl(text)
    raise SpecError("unknown format flag value")


def _parse_hcl(text: str) -> Obj:
    try:
        body = parse_body(text, "spec.nv.hcl")
    except JobspecError as exc:
        raise SpecError(f"error parsing hcl: {exc}") from None
    scope = Scope({}, {}, functions(None))
    out: Obj = {}

    def value(expr: Any) -> Any:
        try:
            return evaluate(expr, scope)
        except EvalError as exc:
            raise SpecError(f"error parsing hcl: {exc.message}") from None

    for name, attr in body.attributes.items():
        if name == "items":
            items = value(attr.expr)
            if not isinstance(items, dict):
                raise SpecError("error parsing hcl: items must be a map")
            out["Items"] = {str(k): str(v) for k, v in items.items()}
        elif name in SPEC_KEYS:
            got = value(attr.expr)
            numeric = name in ("create_index", "modify_index", "create_time", "modify_time")
            if numeric and (not isinstance(got, int) or isinstance(got, bool)):
                raise SpecError(f"error parsing hcl: {name} must be integer; got {got!r}")
            out["".join(p.capitalize() for p in name.split("_"))] = got
        else:
            raise SpecError(f'error parsing hcl: invalid key "{name}"')
    for block in body.blocks:
        if block.type != "items" or block.labels:
            raise SpecError(f'error parsing hcl: invalid key "{block.type}"')
        out["Items"] = {k: str(value(a.expr)) for k, a in block.body.attributes.items()}
    return out


def parse_items(args: list[str], read_stdin: Callable[[], str]) -> dict[str, str]:
    """`key=value` arguments as `nomad var put` takes them: `key=@file` reads a file,
    `key=-` reads stdin, `key=\\@x` is the literal `@x`, and an empty value removes."""
    out: dict[str, str] = {}
    stdin_used = False
    for raw in args:
        if not raw:
            continue
        key, sep, val = raw.partition("=")
        if not sep:
            raise SpecError(f'invalid key/value pair "{raw}": format must be key=value')
        if val.startswith("@"):
            try:
                val = Path(val[1:]).read_text()
            except OSError as exc:
                raise SpecError(
                    f'invalid key/value pair "{raw}": error reading file: {exc}'
                ) from None
        elif val.startswith("\\@"):
            val = val[1:]
        elif val == "-":
            if stdin_used:
                raise SpecError(f'invalid key/value pair "{raw}": stdin already consumed')
            stdin_used = True
            val = read_stdin()
        out[key] = val
    return out


# --- rendering -----------------------------------------------------------------------------


def _go_time(ns: int) -> str:
    """Go's time.Time String() in local time: "2006-01-02 15:04:05.999999999 -0700 MST"."""
    when = dt.datetime.fromtimestamp(ns / 1e9, tz=dt.UTC).astimezone()
    frac = f"{ns % 1_000_000_000:09d}".rstrip("0")
    stamp = when.strftime("%Y-%m-%d %H:%M:%S") + (f".{frac}" if frac else "")
    return f"{stamp} {when.strftime('%z')} {when.tzname()}"


def table(var: Obj) -> str:
    """`-out table`: Nomad's renderSVAsUiTable (its Create Time shows the modify time)."""
    meta = [
        ("Namespace", str(var.get("Namespace", ""))),
        ("Path", str(var.get("Path", ""))),
        ("Create Time", format_unix_nano(int(var.get("ModifyTime") or 0))),
    ]
    if var.get("CreateTime") != var.get("ModifyTime"):
        meta.append(("Modify Time", _go_time(int(var.get("ModifyTime") or 0))))
    meta.append(("Check Index", str(var.get("ModifyIndex", 0))))
    items = var.get("Items") or {}
    rows = format_kv([(k, str(items[k])) for k in sorted(items)])
    return f"{format_kv(meta)}\n\nItems\n{rows}"


def hcl(var: Obj) -> str:
    """`-out hcl`: Nomad's renderAsHCL."""
    items = var.get("Items") or {}
    pad = max((len(k) for k in items), default=0)
    lines = "".join(f"  {k:>{pad}} = {json.dumps(items[k])}\n" for k in sorted(items))
    return (
        f'\nnamespace    = "{var.get("Namespace", "")}"\n'
        f'path         = "{var.get("Path", "")}"\n'
        f"create_index = {var.get('CreateIndex', 0)}  # Set by server\n"
        f"modify_index = {var.get('ModifyIndex', 0)}  "
        "# Set by server; consulted for check-and-set\n"
        f"create_time  = {var.get('CreateTime', 0)}   # Set by server\n"
        f"modify_time  = {var.get('ModifyTime', 0)}   # Set by server\n"
        f"\nitems = {{\n{lines}}}\n"
    )


def pretty_json(var: Obj) -> str:
    """The api package's AsPrettyJSON: its fields in Go's order, two-space indent."""
    shown: Obj = {
        "Namespace": var.get("Namespace", ""),
        "Path": var.get("Path", ""),
        "CreateIndex": var.get("CreateIndex", 0),
        "ModifyIndex": var.get("ModifyIndex", 0),
        "CreateTime": var.get("CreateTime", 0),
        "ModifyTime": var.get("ModifyTime", 0),
        "Items": var.get("Items") or {},
    }
    if var.get("Lock"):
        shown["Lock"] = var["Lock"]
    return json.dumps(shown, indent=2)


def go_template(var: Obj, template: str) -> str:
    try:
        return render(parse(template), {}, var)
    except TemplateError as exc:
        raise SpecError(str(exc)) from None


def render_var(var: Obj, out: str, template: str = "") -> str:
    if out == "json":
        return pretty_json(var)
    if out == "hcl":
        return hcl(var)
    if out == "go-template":
        return go_template(var, template)
    return table(var)


def var_list(vars_: list[Obj]) -> str:
    if not vars_:
        return NO_MATCHES
    ordered = sorted(vars_, key=lambda v: (v.get("Namespace", ""), v.get("Path", "")))
    rows = [("Namespace", "Path", "Last Updated")]
    for v in ordered:
        rows.append(
            (
                str(v.get("Namespace", "")),
                str(v.get("Path", "")),
                format_unix_nano(int(v.get("ModifyTime") or 0)),
            )
        )
    return format_list(rows)


def cas_conflict(check_index: int, conflict: Obj) -> str:
    """Nomad's handleCASError text (without its colours)."""
    last = ""
    if int(conflict.get("ModifyIndex") or 0) > 0:
        when = format_unix_nano(int(conflict.get("ModifyTime") or 0))
        last = f"The server-side item was last updated on {when}.\n    "
    server = conflict.get("ModifyIndex", 0)
    return (
        "\nCheck-and-Set conflict\n\n"
        f"    Your provided check-index ({check_index}) does not match the server-side index "
        f"({server}).\n    {last}If you are sure you want to perform this operation, add the "
        f"-force or -check-index={server} flag before the positional arguments.\n"
    )


SPEC_HCL = """# A variable path can be specified in the specification file and will be used
# when writing the variable without specifying a path on the command line, or
# when writing JSON directly to the `/var/` HTTP API endpoint.
# path = "path/to/variable"

# The namespace to write the variable to can be included in the specification.
# The "-namespace" flag of the "put" command overrides it.
namespace = "default"

# The items map is the only strictly required part of a variable
# specification, since path and namespace can be set by other means. It holds
# the sensitive material to encrypt and store as a Nomad variable; the whole
# map is encrypted and decrypted as a single unit.

# REMINDER: keys in the items map may contain dots, but templates read them
# more easily when they do not: avoid dotted keys when you can.
items {
  key1 = "value 1"
  key2 = "value 2"
}
"""

SPEC_JSON = json.dumps(
    {"Namespace": "default", "Items": {"key1": "value 1", "key2": "value 2"}}, indent=2
)

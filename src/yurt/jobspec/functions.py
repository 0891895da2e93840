"""The HCL functions a Nomad job file may call (the common subset of jobspec2's list)."""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from yurt.jobspec import limits
from yurt.jobspec.diagnostics import Pos
from yurt.jobspec.evaluate import Function, to_string, type_name

_P = Pos(1, 1)


def _s(value: Any) -> str:
    return to_string(value, _P)


def _num(value: Any) -> int | float:
    if isinstance(value, bool):
        raise ValueError("expected a number, got bool")
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        try:
            f = float(value)
        except ValueError:
            raise ValueError(f"expected a number, got string {value!r}") from None
        return int(f) if f.is_integer() else f
    raise ValueError(f"expected a number, got {type_name(value)}")


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError(f"expected a list, got {type_name(value)}")
    return value


def _map(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"expected a map, got {type_name(value)}")
    return value


_VERB = re.compile(r"%(?:\[(\d+)\])?([-+# 0]*)(\d+)?(?:\.(\d+))?([a-zA-Z%])")


def hcl_format(fmt: str, *args: Any) -> str:
    """format(): Go-style verbs %s %d %f %v %q %t %x %o %b %e %%."""
    out: list[str] = []
    pos = 0
    index = 0
    for m in _VERB.finditer(fmt):
        out.append(fmt[pos : m.start()])
        pos = m.end()
        explicit, flags, width, precision, verb = m.groups()
        if verb == "%":
            out.append("%")
            continue
        # Checked before formatting: Python would build the padded text first.
        if (
            max(len(width or ""), len(precision or "")) > 7
            or max(int(width or 0), int(precision or 0)) > limits.MAX_STRING
        ):
            raise ValueError(f"width or precision in {m.group(0)!r} is too large")
        if explicit:
            index = int(explicit) - 1
        if index >= len(args):
            raise ValueError(f"not enough arguments for format string {fmt!r}")
        arg = args[index]
        index += 1
        if verb in ("s", "v"):
            text = json.dumps(arg) if isinstance(arg, list | dict) else _s(arg)
        elif verb == "q":
            text = json.dumps(_s(arg))
        elif verb == "d":
            text = str(int(_num(arg)))
        elif verb == "t":
            text = "true" if arg is True else "false"
        elif verb in ("f", "e", "g"):
            prec = int(precision) if precision else 6
            text = f"{float(_num(arg)):.{prec}{verb}}" if verb != "g" else f"{float(_num(arg)):g}"
        elif verb in ("x", "X", "o", "b"):
            text = format(int(_num(arg)), verb) if verb != "X" else format(int(_num(arg)), "X")
        else:
            raise ValueError(f"unsupported format verb %{verb}")
        if width:
            w = int(width)
            if "-" in flags:
                text = text.ljust(w)
            elif "0" in flags and verb in "dfe":
                text = text.zfill(w)
            else:
                text = text.rjust(w)
        out.append(text)
    out.append(fmt[pos:])
    return "".join(out)


def _replace(text: Any, search: Any, repl: Any) -> str:
    t, pat, r = _s(text), _s(search), _s(repl)
    if len(pat) > 1 and pat.startswith("/") and pat.endswith("/"):
        regex = re.compile(pat[1:-1])
        matches = sum(1 for _ in regex.finditer(t))
        _check_length(len(t) + matches * len(r))
        return regex.sub(re.sub(r"\$(\d+)", r"\\\1", r), t)
    matches = t.count(pat) if pat else len(t) + 1
    _check_length(len(t) + matches * (len(r) - len(pat)))
    return t.replace(pat, r)


def _check_length(n: int) -> None:
    """Refuse, before building it, a string past the limit."""
    if n > limits.MAX_STRING:
        raise ValueError(
            f"the result would be {n} characters long; the limit is {limits.MAX_STRING}"
        )


def _join(sep: Any, *lists: Any) -> str:
    parts = [_s(x) for lst in lists for x in _list(lst)]
    _check_length(sum(len(p) for p in parts) + len(_s(sep)) * max(0, len(parts) - 1))
    return _s(sep).join(parts)


def _jsonencode(value: Any) -> str:
    if limits.size_exceeds(value, limits.MAX_STRING):
        raise ValueError(f"the encoded value would be longer than {limits.MAX_STRING} characters")
    return json.dumps(value, separators=(",", ":"))


def _jsondecode(text: Any) -> Any:
    s = _s(text)
    if s.count("[") + s.count("{") > limits.MAX_JSON_DEPTH:
        depth = 0
        deepest = 0
        for m in re.finditer(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', s):
            c = m.group()
            depth += c in "[{"
            depth -= c in "]}"
            deepest = max(deepest, depth)
        if deepest > limits.MAX_JSON_DEPTH:
            raise ValueError(
                f"arrays and objects are nested more than {limits.MAX_JSON_DEPTH} deep"
            )
    try:
        return json.loads(s)
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON: {exc.msg} at column {exc.colno}") from None


def _lookup(mapping: Any, key: Any, *default: Any) -> Any:
    m = _map(mapping)
    k = _s(key)
    if k in m:
        return m[k]
    if default:
        return default[0]
    raise KeyError(f'the map has no key "{k}" and no default was given')


def _merge(*maps: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for m in maps:
        if m is not None:
            out.update(_map(m))
    return out


def _length(value: Any) -> int:
    if isinstance(value, str | list | dict):
        return len(value)
    raise ValueError(f"cannot take the length of a {type_name(value)}")


def _coalesce(*values: Any) -> Any:
    for v in values:
        if v is not None and v != "":
            return v
    raise ValueError("no non-null, non-empty argument")


def _flatten(value: Any) -> list[Any]:
    out: list[Any] = []
    for item in _list(value):
        out.extend(_flatten(item) if isinstance(item, list) else [item])
    return out


def _distinct(value: Any) -> list[Any]:
    out: list[Any] = []
    for item in _list(value):
        if item not in out:
            out.append(item)
    return out


def _tobool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return str(value) == "true"
    raise ValueError(f"cannot convert {value!r} to bool")


def _range(*args: Any) -> list[Any]:
    """cty's range(): the step defaults to -1 when the limit is below the start, and at
    most 1,024 numbers are made, as in Terraform."""
    nums = [_num(a) for a in args]
    if not 1 <= len(nums) <= 3:
        raise ValueError("range() takes one to three arguments")
    if len(nums) == 1:
        start: int | float = 0
        stop: int | float = nums[0]
    else:
        start, stop = nums[0], nums[1]
    step: int | float = nums[2] if len(nums) == 3 else (1 if stop >= start else -1)
    if step == 0:
        raise ValueError("step must not be zero")
    if (step > 0 and stop < start) or (step < 0 and stop > start):
        raise ValueError(
            "step must be positive when limit is greater than start"
            if step < 0
            else "step must be negative when limit is less than start"
        )
    out: list[int | float] = []
    v = start
    while (step > 0 and v < stop) or (step < 0 and v > stop):
        if len(out) >= limits.MAX_RANGE:
            raise ValueError(
                f"more than {limits.MAX_RANGE} values were generated; either decrease the "
                "difference between start and limit or use a larger step"
            )
        out.append(v)
        v += step
    return out


def _element(lst: Any, index: Any) -> Any:
    items = _list(lst)
    if not items:
        raise ValueError("cannot use element() with an empty list")
    return items[int(_num(index)) % len(items)]


def _formatlist(fmt: Any, *args: Any) -> list[str]:
    lengths = {len(a) for a in args if isinstance(a, list)}
    if len(lengths) > 1:
        raise ValueError("all list arguments must have the same length")
    n = lengths.pop() if lengths else 1
    return [
        hcl_format(_s(fmt), *[a[i] if isinstance(a, list) else a for a in args]) for i in range(n)
    ]


def _substr(text: Any, offset: Any, length: Any) -> str:
    s = _s(text)
    o, n = int(_num(offset)), int(_num(length))
    if o < 0:
        o = len(s) + o
    return s[o:] if n < 0 else s[o : o + n]


def _regex(pattern: Any, text: Any) -> Any:
    m = re.search(_s(pattern), _s(text))
    if m is None:
        raise ValueError("pattern did not match")
    if m.groupdict():
        return m.groupdict()
    if m.groups():
        return list(m.groups())
    return m.group(0)


def functions(base_dir: Path | None) -> dict[str, Function]:
    """The function table; `file` exists only when the file system is allowed (the CLI)."""
    table: dict[str, Callable[..., Any]] = {
        "format": lambda fmt, *a: hcl_format(_s(fmt), *a),
        "formatlist": _formatlist,
        "join": _join,
        "split": lambda sep, text: _s(text).split(_s(sep)),
        "concat": lambda *lists: [x for lst in lists for x in _list(lst)],
        "merge": _merge,
        "lookup": _lookup,
        "upper": lambda s: _s(s).upper(),
        "lower": lambda s: _s(s).lower(),
        "title": lambda s: _s(s).title(),
        "replace": _replace,
        "trimspace": lambda s: _s(s).strip(),
        "trim": lambda s, chars: _s(s).strip(_s(chars)),
        "trimprefix": lambda s, p: _s(s).removeprefix(_s(p)),
        "trimsuffix": lambda s, p: _s(s).removesuffix(_s(p)),
        "chomp": lambda s: _s(s).rstrip("\r\n"),
        "substr": _substr,
        "strrev": lambda s: _s(s)[::-1],
        "length": _length,
        "jsonencode": _jsonencode,
        "jsondecode": _jsondecode,
        "base64encode": lambda s: base64.b64encode(_s(s).encode()).decode(),
        "base64decode": lambda s: base64.b64decode(_s(s)).decode(),
        "coalesce": _coalesce,
        "coalescelist": lambda *ls: next((lst for lst in ls if _list(lst)), []),
        "compact": lambda lst: [x for x in _list(lst) if x not in ("", None)],
        "contains": lambda lst, v: v in _list(lst),
        "distinct": _distinct,
        "element": _element,
        "flatten": _flatten,
        "index": lambda lst, v: _list(lst).index(v),
        "keys": lambda m: sorted(_map(m)),
        "values": lambda m: [_map(m)[k] for k in sorted(_map(m))],
        "reverse": lambda lst: list(reversed(_list(lst))),
        "sort": lambda lst: sorted(_s(x) for x in _list(lst)),
        "slice": lambda lst, a, b: _list(lst)[int(_num(a)) : int(_num(b))],
        "zipmap": lambda ks, vs: dict(zip([_s(k) for k in _list(ks)], _list(vs), strict=True)),
        "range": _range,
        "min": lambda *a: min(_num(x) for x in a),
        "max": lambda *a: max(_num(x) for x in a),
        "abs": lambda x: abs(_num(x)),
        "ceil": lambda x: math.ceil(_num(x)),
        "floor": lambda x: math.floor(_num(x)),
        "tostring": lambda v: None if v is None else _s(v),
        "tonumber": lambda v: None if v is None else _num(v),
        "tobool": lambda v: None if v is None else _tobool(v),
        "tolist": lambda v: list(_list(v)),
        "toset": _distinct,
        "tomap": lambda v: dict(_map(v)),
        "regex": _regex,
        "regexall": lambda p, s: re.findall(_s(p), _s(s)),
        "can": lambda v: True,
    }
    if base_dir is not None:

        def _file(path: Any) -> str:
            p = Path(_s(path))
            if not p.is_absolute():
                p = base_dir / p
            try:
                return p.read_text()
            except OSError as exc:
                raise ValueError(f"cannot read {p}: {exc.strerror}") from None

        table["file"] = _file
        table["fileexists"] = lambda path: (base_dir / _s(path)).is_file()
        table["abspath"] = lambda path: str((base_dir / _s(path)).resolve())
    else:
        # jobspec2's guardFS: the names exist, and say why they cannot be used.
        for name in ("file", "fileexists", "abspath"):
            table[name] = _filesystem_disabled
    return table


def _filesystem_disabled(*_args: Any) -> Any:
    raise ValueError("filesystem function disabled")

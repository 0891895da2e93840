"""consul-template's helper functions that need no data source: encoding, parsing, strings,
lists, hashes, time and arithmetic, with consul-template's argument order (the piped value
comes last: `{{ "a-b" | trimPrefix "a-" }}` is `trimPrefix("a-", "a-b")`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import time
from collections.abc import Callable, Iterable
from typing import Any

from yurt.client.gotemplate import TemplateError


def _b64decode(text: str, urlsafe: bool = False) -> str:
    try:
        raw = base64.b64decode(text.encode(), altchars=b"-_" if urlsafe else None, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise TemplateError(f"base64Decode: {exc}") from None
    return raw.decode("utf-8", "replace")


def _parse_bool(text: str) -> bool:
    # Go's strconv.ParseBool
    value = str(text).strip()
    if value in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if value in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise TemplateError(f'parseBool: invalid syntax "{value}"')


def _parse_number(kind: Callable[[str], Any], name: str) -> Callable[[Any], Any]:
    def parse(text: Any) -> Any:
        try:
            return kind(str(text).strip())
        except ValueError:
            raise TemplateError(f'{name}: invalid syntax "{text}"') from None

    return parse


def _parse_uint(text: Any) -> int:
    value = _parse_number(int, "parseUint")(text)
    if value < 0:
        raise TemplateError(f'parseUint: invalid syntax "{text}"')
    return int(value)


def _parse_json(text: str) -> Any:
    try:
        return json.loads(text) if str(text).strip() else {}
    except json.JSONDecodeError as exc:
        raise TemplateError(f"parseJSON: {exc}") from None


def _go_replacement(replacement: str) -> str:
    """Go's `$1`/`${name}` in a regexp replacement, as Python's `\\g<...>`."""
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: f"\\g<{m[1] or m[2]}>", replacement)


def _regex(pattern: str, name: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise TemplateError(f"{name}: {exc}") from None


def _timestamp(*layout: str) -> str:
    """consul-template's `timestamp`: RFC 3339 in UTC, or `"unix"` for epoch seconds."""
    now = time.time()
    if not layout:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
    if layout[0] == "unix":
        return str(int(now))
    raise TemplateError(
        f'timestamp: Go time layout "{layout[0]}" is not supported; '
        'use no argument (RFC 3339) or "unix"'
    )


def _loop(*bounds: Any) -> list[int]:
    try:
        ints = [int(b) for b in bounds]
    except (TypeError, ValueError):
        raise TemplateError(f"loop: expected integers, got {bounds!r}") from None
    if len(ints) == 1:
        return list(range(ints[0]))
    if len(ints) == 2:
        return list(range(ints[0], ints[1]))
    raise TemplateError("loop: expected one or two integers")


def _by_tag(services: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for svc in services:
        for tag in svc.get("Tags") or ():
            out.setdefault(tag, []).append(svc)
    return dict(sorted(out.items()))


def _indent(spaces: Any, text: str) -> str:
    pad = " " * int(spaces)
    return "\n".join(pad + line if line else line for line in str(text).split("\n"))


def _divide(b: Any, a: Any) -> Any:
    if b == 0:
        raise TemplateError("divide: division by zero")
    return a // b if isinstance(a, int) and isinstance(b, int) else a / b


def _modulo(b: Any, a: Any) -> Any:
    if b == 0:
        raise TemplateError("modulo: division by zero")
    return a % b


def helper_funcs(env: dict[str, str]) -> dict[str, Any]:
    return {
        "base64Decode": lambda s: _b64decode(str(s)),
        "base64Encode": lambda s: base64.b64encode(str(s).encode()).decode(),
        "base64URLDecode": lambda s: _b64decode(str(s), urlsafe=True),
        "base64URLEncode": lambda s: base64.urlsafe_b64encode(str(s).encode()).decode(),
        "envOrDefault": lambda name, default: env.get(name, default),
        "parseBool": _parse_bool,
        "parseFloat": _parse_number(float, "parseFloat"),
        "parseJSON": _parse_json,
        "parseUint": _parse_uint,
        "trim": lambda cutset, s: str(s).strip(cutset),
        "trimPrefix": lambda prefix, s: str(s).removeprefix(prefix),
        "trimSuffix": lambda suffix, s: str(s).removesuffix(suffix),
        "toTitle": lambda s: " ".join(w[:1].upper() + w[1:] for w in str(s).split(" ")),
        "toJSONPretty": lambda v: json.dumps(v, indent=2),
        "indent": _indent,
        "regexMatch": lambda pattern, s: _regex(pattern, "regexMatch").search(str(s)) is not None,
        "regexReplaceAll": lambda pattern, repl, s: _regex(pattern, "regexReplaceAll").sub(
            _go_replacement(repl), str(s)
        ),
        "sha256Hex": lambda s: hashlib.sha256(str(s).encode()).hexdigest(),
        "md5sum": lambda s: hashlib.md5(str(s).encode(), usedforsecurity=False).hexdigest(),
        "timestamp": _timestamp,
        "in": lambda items, value: value in items,
        "containsAll": lambda values, items: all(v in items for v in values),
        "containsAny": lambda values, items: any(v in items for v in values),
        "containsNone": lambda values, items: not any(v in items for v in values),
        "containsNotAll": lambda values, items: not all(v in items for v in values),
        "loop": _loop,
        "byTag": _by_tag,
        "add": lambda b, a: a + b,
        "subtract": lambda b, a: a - b,
        "multiply": lambda b, a: a * b,
        "divide": _divide,
        "modulo": _modulo,
        "minimum": lambda b, a: min(a, b),
        "maximum": lambda b, a: max(a, b),
    }

"""Go's time.Duration text form, as Consul and Nomad accept and print it."""

from __future__ import annotations

import re

NANOSECOND = 1
MICROSECOND = 1_000
MILLISECOND = 1_000_000
SECOND = 1_000_000_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE

_UNITS = {
    "ns": NANOSECOND,
    "us": MICROSECOND,
    "\u00b5s": MICROSECOND,
    "\u03bcs": MICROSECOND,
    "ms": MILLISECOND,
    "s": SECOND,
    "m": MINUTE,
    "h": HOUR,
}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)")


def parse_go_duration(text: str) -> int:
    """Return the duration in nanoseconds; raise ValueError naming what is wrong.

    Accepts what Go's time.ParseDuration accepts: "300ms", "-1.5h", "2h45m", "0".
    """
    s = text.strip()
    if not s:
        raise ValueError('invalid duration "": empty')
    sign = 1
    if s[0] in "+-":
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    if s == "0":
        return 0
    pos = 0
    total = 0.0
    while pos < len(s):
        m = _PART.match(s, pos)
        if m is None:
            if re.match(r"\d", s[pos:]):
                raise ValueError(
                    f'invalid duration "{text}": missing unit (use one of ns, us, ms, s, m, h)'
                )
            raise ValueError(f'invalid duration "{text}": expected a number and a unit, e.g. "10s"')
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    return sign * round(total)


def format_go_duration(ns: int) -> str:
    """Format nanoseconds as Go's Duration.String() does ("1h2m3s", "500ms", "0s")."""
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    if ns < SECOND:
        for unit, size in (("ms", MILLISECOND), ("\u00b5s", MICROSECOND), ("ns", NANOSECOND)):
            if ns >= size:
                value = ns / size
                return f"{sign}{_trim(value)}{unit}"
    hours, rest = divmod(ns, HOUR)
    minutes, rest = divmod(rest, MINUTE)
    seconds = rest / SECOND
    out = ""
    if hours:
        out += f"{hours}h"
    if hours or minutes:
        out += f"{minutes}m"
    out += f"{_trim(seconds)}s"
    return sign + out


def _trim(value: float) -> str:
    text = f"{value:.9f}".rstrip("0").rstrip(".")
    return text or "0"


def duration_from_json(value: object, field: str) -> int:
    """Read a duration from a JSON body: integer nanoseconds or a Go duration string."""
    if isinstance(value, bool):
        raise ValueError(f"{field}: expected a duration, got a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    if isinstance(value, str):
        try:
            return parse_go_duration(value)
        except ValueError as exc:
            raise ValueError(f"{field}: {exc}") from None
    raise ValueError(f'{field}: expected a duration such as "10s", got {type(value).__name__}')

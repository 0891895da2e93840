"""The router configuration's value syntax: its error type, Go durations, booleans and
integers as Fabio's properties spell them, and splitting at separators outside quotes.

A leaf module: `auth`, `certs` and `metrics` raise `ConfigError` from here, so that
`config` can import them without a cycle.
"""

from __future__ import annotations

from yurt.api.durations import SECOND, format_go_duration, parse_go_duration


class ConfigError(ValueError):
    """A bad setting: names the property (and file:line for the properties file)."""


def duration_seconds(key: str, text: str) -> float:
    try:
        return parse_go_duration(text) / SECOND
    except ValueError as exc:
        raise ConfigError(f"{key}: {exc}") from None


def go_duration(seconds: float) -> str:
    return format_go_duration(round(seconds * SECOND))


def parse_bool(key: str, text: str) -> bool:
    low = text.strip().lower()
    if low in ("true", "1", "t", "yes"):
        return True
    if low in ("false", "0", "f", "no", ""):
        return False
    raise ConfigError(f"{key}: expected true or false, got {text!r}")


def parse_int(key: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"{key}: expected an integer, got {text!r}") from None


def split_unquoted(text: str, sep: str) -> list[str]:
    """Split at `sep` outside double quotes (Fabio: `tlsciphers="0xc02f,0xc030"`)."""
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        if ch == sep and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts

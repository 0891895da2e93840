"""Text output shaped like the nomad and consul CLIs', so scripts that grep and awk it work.

`format_list` and `format_kv` follow the columnize settings the nomad CLI uses: columns
joined by two spaces, the last column unpadded; key/value blocks joined by " = ".
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence

SHORT_ID = 8


def limit(text: str, length: int) -> str:
    return text[:length] if length > 0 else text


def _columnize(rows: Sequence[Sequence[str]], glue: str) -> str:
    if not rows:
        return ""
    columns = max(len(r) for r in rows)
    widths = [0] * columns
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    lines = []
    for row in rows:
        cells = list(row)
        parts = []
        for i, cell in enumerate(cells):
            if i == len(cells) - 1:
                parts.append(cell)
            else:
                parts.append(cell.ljust(widths[i]) + glue)
        lines.append("".join(parts).rstrip())
    return "\n".join(lines)


def format_list(rows: Sequence[Sequence[str]]) -> str:
    """A table: the first row is the header."""
    return _columnize(rows, "  ")


def format_kv(pairs: Sequence[tuple[str, str]]) -> str:
    return _columnize([(k, v) for k, v in pairs], " = ")


def format_time(t: dt.datetime | None) -> str:
    """RFC 3339 in local time, as nomad prints dates; empty for the zero time."""
    if t is None or t.timestamp() < 1:
        return ""
    local = t.astimezone()
    text = local.isoformat(timespec="seconds")
    return text.replace("+00:00", "Z") if local.utcoffset() == dt.timedelta(0) else text


def format_unix_nano(ns: int | None) -> str:
    if not ns:
        return ""
    return format_time(dt.datetime.fromtimestamp(ns / 1e9, tz=dt.UTC))


def parse_rfc3339(text: str | None) -> dt.datetime | None:
    if not text or text.startswith("0001-01-01"):
        return None
    cleaned = text.replace("Z", "+00:00")
    # Go prints up to nanoseconds; Python takes at most microseconds.
    if "." in cleaned:
        head, _, tail = cleaned.partition(".")
        digits = "".join(ch for ch in tail if ch.isdigit())
        zone = tail[len(digits) :]
        cleaned = f"{head}.{digits[:6].ljust(6, '0')}{zone}"
    try:
        return dt.datetime.fromisoformat(cleaned)
    except ValueError:
        return None


def pretty_time_diff(then_ns: int | None, now: float | None = None) -> str:
    """ "3m12s ago", "1h5m ago", "2d3h ago": the two most significant units, as nomad does."""
    if not then_ns:
        return ""
    now_s = time.time() if now is None else now
    diff = round(now_s) - round(then_ns / 1e9)
    suffix = " ago" if diff >= 0 else " from now"
    secs = abs(diff)
    units = []
    days, rem = divmod(secs, 86400)
    hours, rem = divmod(rem, 3600)
    minutes, seconds = divmod(rem, 60)
    for value, unit in ((days, "d"), (hours, "h"), (minutes, "m"), (seconds, "s")):
        if value:
            units.append(f"{value}{unit}")
    if not units:
        return "0s" + suffix
    return "".join(units[:2]) + suffix


def humanize_ibytes(n: int) -> str:
    """go-humanize's IBytes: "300 MiB", "1.2 GiB"."""
    if n < 10:
        return f"{n} B"
    units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
    value = float(n)
    i = 0
    while value >= 1024 and i < len(units) - 1:
        value /= 1024
        i += 1
    if value < 10:
        text = f"{value:.1f}"
        text = text[:-2] if text.endswith(".0") else text
    else:
        text = f"{value:.0f}"
    return f"{text} {units[i]}"

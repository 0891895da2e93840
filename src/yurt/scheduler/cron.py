"""Cron expressions for periodic jobs (the subset Nomad's cronexpr users write):
5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first, with `*`,
lists, ranges, steps, month/day names and the `@hourly`-style shortcuts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_MONTHS = {
    n: i + 1
    for i, n in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    )
}
_DAYS = {n: i for i, n in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}
_SHORTCUTS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


class CronError(ValueError):
    pass


def _field(text: str, lo: int, hi: int, names: dict[str, int] | None = None) -> set[int]:
    out: set[int] = set()
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            step = int(step_text)
            if step <= 0:
                raise CronError(f"invalid step in {text!r}")
        if part in ("*", "?"):
            start, end = lo, hi
        elif "-" in part:
            a, b = part.split("-", 1)
            start, end = _value(a, names), _value(b, names)
        else:
            start = _value(part, names)
            end = hi if "/" in text else start
        if start < lo or end > hi or start > end:
            raise CronError(f"value out of range in {text!r} (expected {lo}-{hi})")
        out.update(range(start, end + 1, step))
    return out


def _value(text: str, names: dict[str, int] | None) -> int:
    if names and text.lower() in names:
        return names[text.lower()]
    try:
        return int(text)
    except ValueError:
        raise CronError(f"invalid cron value {text!r}") from None


class Cron:
    def __init__(self, spec: str) -> None:
        text = _SHORTCUTS.get(spec.strip(), spec.strip())
        fields = text.split()
        if len(fields) == 5:
            fields = ["0", *fields]
        if len(fields) == 7:
            fields = fields[:6]
        if len(fields) != 6:
            raise CronError(f"cron spec {spec!r}: expected 5 or 6 fields, got {len(fields)}")
        self.seconds = _field(fields[0], 0, 59)
        self.minutes = _field(fields[1], 0, 59)
        self.hours = _field(fields[2], 0, 23)
        self.days = _field(fields[3], 1, 31)
        self.months = _field(fields[4], 1, 12, _MONTHS)
        dows = _field(fields[5].replace("7", "0"), 0, 6, _DAYS)
        self.dows = dows
        self._dom_any = fields[3] in ("*", "?")
        self._dow_any = fields[5] in ("*", "?")

    def _day_ok(self, t: datetime) -> bool:
        dom = t.day in self.days
        dow = (t.isoweekday() % 7) in self.dows
        if self._dom_any and self._dow_any:
            return True
        if self._dom_any:
            return dow
        if self._dow_any:
            return dom
        return dom or dow

    def next_after(self, after: datetime) -> datetime | None:
        t = after.astimezone(UTC).replace(microsecond=0) + timedelta(seconds=1)
        limit = t + timedelta(days=366 * 5)
        while t < limit:
            if t.month not in self.months:
                t = (t.replace(day=1, hour=0, minute=0, second=0) + timedelta(days=32)).replace(
                    day=1
                )
                continue
            if not self._day_ok(t):
                t = t.replace(hour=0, minute=0, second=0) + timedelta(days=1)
                continue
            if t.hour not in self.hours:
                t = t.replace(minute=0, second=0) + timedelta(hours=1)
                continue
            if t.minute not in self.minutes:
                t = t.replace(second=0) + timedelta(minutes=1)
                continue
            if t.second not in self.seconds:
                t += timedelta(seconds=1)
                continue
            return t
        return None

"""`/v1/agent/metrics`: the agent's gauges in go-metrics' JSON shape and in Prometheus' text
format. Pure: the caller reads the numbers (`Sample`s) and this module shapes them.

Consul's names are dotted (`consul.raft.applied_index`); Prometheus' are the same with `_`
for every character Prometheus does not allow.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Sample:
    """One gauge: a name, its value and its labels."""

    name: str
    value: float
    labels: dict[str, str] = field(default_factory=dict)
    help: str = ""


def go_timestamp(ts: float) -> str:
    """go-metrics' `Timestamp`: Go's time.String() of the interval start, to the second."""
    return time.strftime("%Y-%m-%d %H:%M:%S +0000 UTC", time.gmtime(ts))


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def to_json(samples: Iterable[Sample], now: float) -> dict[str, Any]:
    """go-metrics' InmemSink summary (what Consul's `/v1/agent/metrics` answers)."""
    gauges = [
        {"Name": s.name, "Value": _number(s.value), "Labels": dict(s.labels)}
        for s in sorted(samples, key=lambda s: s.name)
    ]
    return {
        "Timestamp": go_timestamp(now - now % 10),
        "Gauges": gauges,
        "Points": [],
        "Counters": [],
        "Samples": [],
    }


_BAD = re.compile(r"[^a-zA-Z0-9_:]")


def prometheus_name(name: str) -> str:
    return _BAD.sub("_", name)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def to_prometheus(samples: Iterable[Sample]) -> str:
    """The text exposition format (version 0.0.4), one gauge family per name."""
    lines: list[str] = []
    for s in sorted(samples, key=lambda s: s.name):
        name = prometheus_name(s.name)
        lines.append(f"# HELP {name} {s.help or s.name}")
        lines.append(f"# TYPE {name} gauge")
        labels = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(s.labels.items()))
        lines.append(
            f"{name}{{{labels}}} {_number(s.value)}" if labels else f"{name} {_number(s.value)}"
        )
    return "\n".join(lines) + "\n"

"""`/v1/metrics`: go-metrics' JSON shape and Prometheus text, with Nomad's metric names."""

from __future__ import annotations

import resource
import time
from typing import TYPE_CHECKING, Any

from yurt.scheduler import model as m
from yurt.scheduler import store as s

if TYPE_CHECKING:
    from yurt.scheduler.server import SchedulerServer


def _gauges(server: SchedulerServer) -> list[tuple[str, float, dict[str, str]]]:
    store = server.store
    out: list[tuple[str, float, dict[str, str]]] = []
    stats = server.broker.stats()
    out.append(("nomad.nomad.broker.total_ready", stats["TotalReady"], {}))
    out.append(("nomad.nomad.broker.total_waiting", stats["TotalWaiting"], {}))
    blocked = sum(1 for e in store.evals.values() if e["Status"] == m.EVAL_BLOCKED)
    out.append(("nomad.nomad.blocked_evals.total_blocked", blocked, {}))
    out.append(("nomad.nomad.heartbeat.active", server.heartbeats.tracked(), {}))
    by_status: dict[str, int] = {}
    for node in store.nodes.values():
        by_status[node.get("Status", "")] = by_status.get(node.get("Status", ""), 0) + 1
    for status, n in sorted(by_status.items()):
        out.append(("nomad.nomad.nodes", n, {"status": status}))
    by_client: dict[str, int] = {}
    for alloc in store.allocs.values():
        st = alloc.get("ClientStatus", "")
        by_client[st] = by_client.get(st, 0) + 1
    for status, n in sorted(by_client.items()):
        out.append(("nomad.nomad.allocations", n, {"client_status": status}))
    out.append(("nomad.nomad.jobs", len(store.tables[s.JOB]), {}))
    out.append(("nomad.raft.appliedIndex", store.index, {}))
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out.append(("nomad.runtime.max_rss_bytes", rss_kb * 1024, {}))
    return out


def _counters(server: SchedulerServer) -> list[tuple[str, float, dict[str, str]]]:
    ops = server.ops
    return [
        ("nomad.nomad.worker.evals_processed", ops.evals_processed, {}),
        ("nomad.nomad.plan.allocs_placed", ops.allocs_placed, {}),
    ]


def _latency_ms(server: SchedulerServer) -> dict[str, Any]:
    values = sorted(server.ops.eval_latencies_ns)
    if not values:
        return {"Count": 0, "Sum": 0.0, "Min": 0.0, "Max": 0.0, "Mean": 0.0, "Stddev": 0.0}
    ms = [v / 1e6 for v in values]
    mean = sum(ms) / len(ms)
    var = sum((x - mean) ** 2 for x in ms) / len(ms)
    return {
        "Count": len(ms),
        "Sum": sum(ms),
        "Min": ms[0],
        "Max": ms[-1],
        "Mean": mean,
        "Stddev": var**0.5,
    }


def metrics_json(server: SchedulerServer) -> dict[str, Any]:
    sample = {"Name": "nomad.nomad.worker.invoke_scheduler", "Labels": {}}
    sample.update(_latency_ms(server))
    return {
        "Timestamp": time.strftime("%Y-%m-%d %H:%M:%S +0000 UTC", time.gmtime()),
        "Gauges": [{"Name": n, "Value": v, "Labels": labels} for n, v, labels in _gauges(server)],
        "Counters": [
            {
                "Name": n,
                "Count": int(v),
                "Sum": v,
                "Min": 1.0,
                "Max": 1.0,
                "Mean": 1.0,
                "Stddev": 0.0,
                "Labels": labels,
            }
            for n, v, labels in _counters(server)
        ],
        "Samples": [sample],
        "Points": [],
    }


def _prom_name(name: str) -> str:
    return name.replace(".", "_").replace("-", "_")


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return "{" + inner + "}"


def metrics_prometheus(server: SchedulerServer) -> str:
    lines: list[str] = []
    seen: set[str] = set()
    for name, value, labels in _gauges(server):
        pname = _prom_name(name)
        if pname not in seen:
            lines.append(f"# TYPE {pname} gauge")
            seen.add(pname)
        lines.append(f"{pname}{_labels(labels)} {value}")
    for name, value, labels in _counters(server):
        pname = _prom_name(name)
        lines.append(f"# TYPE {pname} counter")
        lines.append(f"{pname}{_labels(labels)} {value}")
    lat = _latency_ms(server)
    pname = "nomad_nomad_worker_invoke_scheduler"
    lines.append(f"# TYPE {pname} summary")
    lines.append(f"{pname}_sum {lat['Sum']}")
    lines.append(f"{pname}_count {lat['Count']}")
    return "\n".join(lines) + "\n"

"""Scheduler benchmark: placements per second and evaluation latency at scale.

Each scenario runs in its own process (so peak memory is its own): it registers N
simulated nodes and then jobs totalling A allocations through the scheduler's operations
(the same code paths the HTTP API calls, SQLite commits included), processes every
evaluation, and reports placements per second (by the wall clock, and per second of the
process's CPU time, which other load on the machine does not skew), p50/p99 evaluation
latency, peak RSS, and what the process grew by per allocation placed (its RSS after the
placements less its RSS with the nodes registered: the scheduler's state per allocation).

    python bench/scheduler.py                 # 1,000 / 10,000, 5,000 / 50,000, 10,000 / 100,000
    python bench/scheduler.py --quick         # 200 / 2,000 and 1,000 / 10,000
    python bench/scheduler.py --scenario 1000:10000
    python bench/scheduler.py --gc-threshold python   # Python's own collector settings
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from typing import Any

ALLOCS_PER_JOB = 100


def _node(i: int) -> dict[str, Any]:
    return {
        "ID": str(uuid.uuid4()),
        "SecretID": str(uuid.uuid4()),
        "Name": f"bench-{i}",
        "Datacenter": f"dc{1 + i % 3}",
        "NodeClass": "",
        "HTTPAddr": f"10.0.{i // 250}.{i % 250}:4646",
        "Attributes": {
            "kernel.name": "linux",
            "driver.raw_exec": "1",
            "driver.docker": "1",
            "unique.network.ip-address": f"10.0.{i // 250}.{i % 250}",
        },
        "Meta": {"rack": f"r{i % 10}"},
        "Drivers": {
            "raw_exec": {"Detected": True, "Healthy": True},
            "docker": {"Detected": True, "Healthy": True},
        },
        "NodeResources": {
            "Cpu": {"CpuShares": 8000},
            "Memory": {"MemoryMB": 16384},
            "Networks": [{"Device": "eth0", "IP": f"10.0.{i // 250}.{i % 250}"}],
            "MinDynamicPort": 20000,
            "MaxDynamicPort": 32000,
        },
        "ReservedResources": {
            "Cpu": {"CpuShares": 0},
            "Memory": {"MemoryMB": 0},
            "Networks": {"ReservedHostPorts": ""},
        },
    }


def _job(i: int, count: int) -> dict[str, Any]:
    return {
        "ID": f"bench-job-{i}",
        "Name": f"bench-job-{i}",
        "Namespace": "default",
        "Type": "service",
        "Priority": 50,
        "Datacenters": ["dc1", "dc2", "dc3"],
        "TaskGroups": [
            {
                "Name": "app",
                "Count": count,
                "Networks": [{"Mode": "host", "DynamicPorts": [{"Label": "http", "Value": 0}]}],
                "Tasks": [
                    {
                        "Name": "app",
                        "Driver": "docker",
                        "Config": {"image": "app:1"},
                        "Resources": {"CPU": 100, "MemoryMB": 128},
                    }
                ],
            }
        ],
    }


def _rss_bytes() -> int:
    """The process's resident memory now (Linux: /proc/self/statm; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * resource.getpagesize()
    except (OSError, ValueError, IndexError):
        return 0


class _GCPauses:
    """Time the cyclic garbage collector takes (it rescans every container object the
    scheduler's state holds: the pause grows with the state, not with the work)."""

    def __init__(self) -> None:
        self.total_s = 0.0
        self.max_s = 0.0
        self._started = 0.0
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        took = time.perf_counter() - self._started
        self.total_s += took
        self.max_s = max(self.max_s, took)

    def reset(self) -> None:
        self.total_s = self.max_s = 0.0


async def _scenario(nodes: int, allocs: int) -> dict[str, Any]:
    from yurt.api.durations import SECOND
    from yurt.scheduler import SchedulerConfig, SchedulerServer
    from yurt.scheduler.plan_apply import LONG_LIVED

    pauses = _GCPauses()

    with tempfile.TemporaryDirectory() as data_dir:
        server = SchedulerServer(
            SchedulerConfig(http_port=0, data_dir=data_dir, heartbeat_ttl=3600 * SECOND)
        )
        ops = server.ops
        t0 = time.perf_counter()
        for i in range(nodes):
            ops.register_node(_node(i))
        node_s = time.perf_counter() - t0
        # evaluations the node registrations queued (none place anything)
        while server.broker.stats()["TotalReady"]:
            ops.process_eval(await server.broker.dequeue())
        LONG_LIVED.when_idle()  # as the server's worker does when the broker is empty
        ops.eval_latencies_ns.clear()
        placed_before = ops.allocs_placed
        rss_before = _rss_bytes()
        t0 = time.perf_counter()
        jobs = (allocs + ALLOCS_PER_JOB - 1) // ALLOCS_PER_JOB
        for i in range(jobs):
            ops.register_job(_job(i, min(ALLOCS_PER_JOB, allocs - i * ALLOCS_PER_JOB)))
        register_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        cpu0 = time.process_time()
        pauses.reset()
        while server.broker.stats()["TotalReady"]:
            ops.process_eval(await server.broker.dequeue())
            if not server.broker.stats()["TotalReady"]:  # as the server's worker does
                LONG_LIVED.when_idle()
        eval_s = time.perf_counter() - t0
        eval_cpu_s = time.process_time() - cpu0
        placed = ops.allocs_placed - placed_before
        grown = _rss_bytes() - rss_before
        lat = sorted(ops.eval_latencies_ns)
        server.heartbeats.close()
        server.store.close()
    return {
        "nodes": nodes,
        "allocs": placed,
        "node_register_per_s": nodes / node_s,
        "job_register_per_s": jobs / register_s,
        "placements_per_s": placed / eval_s,
        "placements_per_cpu_s": placed / eval_cpu_s,
        "gc_s": pauses.total_s,
        "gc_max_ms": pauses.max_s * 1000,
        "p50_eval_ms": lat[len(lat) // 2] / 1e6 if lat else 0.0,
        "p99_eval_ms": lat[min(len(lat) - 1, int(len(lat) * 0.99))] / 1e6 if lat else 0.0,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "kb_per_alloc": grown / 1024 / placed if placed and rss_before else 0.0,
    }


def _run_child(
    nodes: int, allocs: int, gc_threshold: str | None, malloc_defaults: bool = False
) -> dict[str, Any]:
    extra = ["--gc-threshold", gc_threshold] if gc_threshold else []
    if malloc_defaults:
        extra.append("--malloc-defaults")
    out = subprocess.run(
        [sys.executable, __file__, "--child", f"{nodes}:{allocs}", *extra],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller scenarios")
    parser.add_argument("--scenario", action="append", help="NODES:ALLOCS (repeatable)")
    parser.add_argument(
        "--gc-threshold",
        help="G0,G1,G2 for gc.set_threshold in the scheduler process (default: the "
        "servers' own, yurt.runtime.GC_THRESHOLDS; 'python' for Python's defaults)",
    )
    parser.add_argument(
        "--malloc-defaults",
        action="store_true",
        help="glibc's own malloc settings in the scheduler process, instead of the servers' "
        "(yurt.heap.configure)",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        if not args.malloc_defaults:
            from yurt import heap

            heap.configure()  # what every server process runs with
        if args.gc_threshold is None:
            from yurt.runtime import tune_gc

            tune_gc()  # what `yurt scheduler` and `yurt up` run with
        elif args.gc_threshold != "python":
            gc.set_threshold(*(int(x) for x in args.gc_threshold.split(",")))
        nodes, allocs = (int(x) for x in args.child.split(":"))
        print(json.dumps(asyncio.run(_scenario(nodes, allocs))))
        return
    scenarios = [tuple(int(x) for x in s.split(":")) for s in args.scenario or []]
    if not scenarios:
        scenarios = (
            [(200, 2000), (1000, 10000)]
            if args.quick
            else [(1000, 10000), (5000, 50000), (10000, 100000)]
        )
    header = (
        f"{'nodes':>7} {'allocs':>7} {'nodes reg/s':>12} {'jobs reg/s':>11} "
        f"{'placements/s':>13} {'per CPU-s':>10} {'p50 eval ms':>12} {'p99 eval ms':>12} "
        f"{'peak RSS MB':>12} {'KB/alloc':>9} {'GC s':>6} {'GC max ms':>10}"
    )
    print(header)
    print("-" * len(header))
    for nodes, allocs in scenarios:
        r = _run_child(nodes, allocs, args.gc_threshold, args.malloc_defaults)
        print(
            f"{r['nodes']:>7} {r['allocs']:>7} {r['node_register_per_s']:>12.0f} "
            f"{r['job_register_per_s']:>11.0f} {r['placements_per_s']:>13.0f} "
            f"{r['placements_per_cpu_s']:>10.0f} "
            f"{r['p50_eval_ms']:>12.1f} {r['p99_eval_ms']:>12.1f} {r['peak_rss_mb']:>12.0f} "
            f"{r['kb_per_alloc']:>9.1f} {r['gc_s']:>6.1f} {r['gc_max_ms']:>10.0f}",
            flush=True,
        )
    print(
        f"\n(each evaluation places one job of up to {ALLOCS_PER_JOB} allocations; "
        "latency is the scheduler's time per evaluation, SQLite commit included)"
    )


if __name__ == "__main__":
    main()

"""Garbage collection of finished state, as Nomad's core scheduler does it.

Every `interval` the server removes what nobody needs any more, once it is older than its
threshold (Nomad's defaults: evaluations 1 h, batch evaluations 24 h, dead jobs 4 h,
deployments 1 h, down nodes 24 h). `PUT /v1/system/gc` (`nomad system gc`) runs it at once
with every threshold at zero.

What is collected:
- a dead job (stopped, or all its work finished) with nothing pending: the job, its versions
  and submitted sources, its evaluations, allocations and deployments; periodic and
  parameterized parents only once stopped;
- the versions and sources of a job that is gone (`job stop -purge`);
- a finished evaluation whose allocations are all collectable;
- an allocation only when its client is done with it (complete, failed or lost) and it no
  longer counts for its job: its job is gone, stopped or dead, the server stopped it, or a
  replacement took its place. A failed allocation of a running job that was not replaced
  is kept: it is what stops the reconciler from placing it again;
- a finished deployment that no live allocation belongs to and that is not its live job's
  latest;
- a node that has been down for the threshold and runs nothing.

Evaluations, allocations, jobs and nodes carry their own wall times; deployments do not, so
their age comes from a table of (index, time) samples the collector keeps, as Nomad's
TimeTable does (kept in memory: after a restart a deployment's age counts from then).

After deleting, the database's free pages go back to the file system (incremental vacuum
and a WAL checkpoint), so a collection also shrinks `scheduler.db`.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from yurt.scheduler import model as m
from yurt.scheduler import store as s
from yurt.scheduler.structs import Allocation, Deployment, Evaluation, Job

# Whether a wall time (ns) is older than a threshold (ns), or collection is forced.
_Old = Callable[[int, int], bool]

_HOUR_NS = 3600 * 10**9
_TERMINAL_EVAL = frozenset({m.EVAL_COMPLETE, m.EVAL_FAILED, m.EVAL_CANCELED})
_TERMINAL_DEPLOYMENT = frozenset({m.DEPLOY_SUCCESSFUL, m.DEPLOY_FAILED, m.DEPLOY_CANCELLED})


@dataclass
class GCThresholds:
    """Ages (ns) past which finished state is collected; Nomad's server defaults."""

    eval_ns: int = 1 * _HOUR_NS
    batch_eval_ns: int = 24 * _HOUR_NS
    job_ns: int = 4 * _HOUR_NS
    deployment_ns: int = 1 * _HOUR_NS
    node_ns: int = 24 * _HOUR_NS


@dataclass
class GCResult:
    """How many objects of each kind one run removed."""

    jobs: int = 0
    evals: int = 0
    allocs: int = 0
    deployments: int = 0
    nodes: int = 0

    @property
    def total(self) -> int:
        return self.jobs + self.evals + self.allocs + self.deployments + self.nodes


@dataclass
class TimeTable:
    """Samples of (raft-like index, wall time in ns), oldest first, to date an index."""

    indexes: list[int] = field(default_factory=list)
    times: list[int] = field(default_factory=list)
    limit: int = 1000

    def witness(self, index: int, now_ns: int) -> None:
        if self.indexes and index <= self.indexes[-1]:
            return
        self.indexes.append(index)
        self.times.append(now_ns)
        if len(self.indexes) > self.limit:
            del self.indexes[0], self.times[0]

    def index_at(self, when_ns: int) -> int:
        """The highest index known to exist at `when_ns` (0 if none was seen by then)."""
        at = bisect.bisect_right(self.times, when_ns)
        return self.indexes[at - 1] if at else 0


class GarbageCollector:
    def __init__(self, store: s.Store, thresholds: GCThresholds | None = None) -> None:
        self.store = store
        self.thresholds = thresholds or GCThresholds()
        self.times = TimeTable()

    def run(self, *, force: bool = False, now_ns: int | None = None) -> GCResult:
        """One collection; `force` treats everything finished as old enough."""
        now = time.time_ns() if now_ns is None else now_ns
        self.times.witness(self.store.index, now)
        th = self.thresholds

        def old(when_ns: int, threshold_ns: int) -> bool:
            return force or when_ns <= now - threshold_ns

        store = self.store
        tables = store.tables
        jobs = store.jobs_by_key
        result = GCResult()
        doomed: list[tuple[str, str]] = []
        jobs_gone: set[str] = set()

        for key, job in jobs.items():
            ns, jid = str(job.get("Namespace") or "default"), str(job["ID"])
            evals = self.store.evals_for_job(ns, jid)
            allocs = self.store.allocs_for_job(ns, jid)
            if not self._job_collectable(job, evals, allocs, old):
                continue
            jobs_gone.add(key)
            result.jobs += 1
            doomed.append((s.JOB, key))
            prefix = key + "\x00"
            doomed += [(s.JOB_VERSION, k) for k in tables[s.JOB_VERSION] if k.startswith(prefix)]
            doomed += [(s.SUBMISSION, k) for k in tables[s.SUBMISSION] if k.startswith(prefix)]
            doomed += [(s.EVAL, e["ID"]) for e in evals]
            doomed += [(s.ALLOC, a["ID"]) for a in allocs]
            result.evals += len(evals)
            result.allocs += len(allocs)
            for d in self.store.deployments_for_job(ns, jid):
                doomed.append((s.DEPLOYMENT, d["ID"]))
                result.deployments += 1

        # Versions and sources of jobs that are gone (a purge removes only the job).
        for kind in (s.JOB_VERSION, s.SUBMISSION):
            for key in tables[kind]:
                if key.rsplit("\x00", 1)[0] not in tables[s.JOB]:
                    doomed.append((kind, key))

        allocs_by_eval: dict[str, list[Allocation]] = {}
        for alloc in store.allocs.values():
            allocs_by_eval.setdefault(str(alloc.get("EvalID", "")), []).append(alloc)
        for ev in store.evals.values():
            job_key = s.job_key(str(ev.get("Namespace") or "default"), str(ev.get("JobID", "")))
            if job_key in jobs_gone or ev.get("Status") not in _TERMINAL_EVAL:
                continue
            owner = jobs.get(job_key)
            batch = ev.get("Type") == "batch"
            if not old(int(ev.get("ModifyTime") or 0), th.batch_eval_ns if batch else th.eval_ns):
                continue
            mine = allocs_by_eval.get(str(ev["ID"]), [])
            if not all(self._alloc_collectable(a, owner, old) for a in mine):
                continue
            doomed.append((s.EVAL, ev["ID"]))
            doomed += [(s.ALLOC, a["ID"]) for a in mine]
            result.evals += 1
            result.allocs += len(mine)

        deployment_before = self.times.index_at(now - th.deployment_ns)
        for dep in store.deployments.values():
            job_key = s.job_key(str(dep.get("Namespace") or "default"), str(dep.get("JobID", "")))
            if job_key in jobs_gone or dep.get("Status") not in _TERMINAL_DEPLOYMENT:
                continue
            if not force and int(dep.get("ModifyIndex") or 0) > deployment_before:
                continue
            if self._deployment_needed(dep, jobs.get(job_key)):
                continue
            doomed.append((s.DEPLOYMENT, dep["ID"]))
            result.deployments += 1

        for node in store.nodes.values():
            if node.get("Status") != m.NODE_DOWN:
                continue
            if not old(int(node.get("StatusUpdatedAt") or 0) * 10**9, th.node_ns):
                continue
            if any(not m.alloc_client_terminal(a) for a in self.store.allocs_for_node(node["ID"])):
                continue
            doomed.append((s.NODE, node["ID"]))
            result.nodes += 1

        if doomed:
            with self.store.write() as txn:
                for kind, key in dict.fromkeys(doomed):
                    txn.delete(kind, key)
            # Deleted rows leave free pages: give them (and the WAL) back to the disk.
            self.store.reclaim()
        return result

    def _job_collectable(
        self, job: Job, evals: list[Evaluation], allocs: list[Allocation], old: _Old
    ) -> bool:
        if job.get("Status") != m.JOB_DEAD:
            return False
        if (job.get("Periodic") or job.get("ParameterizedJob")) and not job.get("Stop"):
            return False  # a parent keeps launching children until it is stopped
        if not old(int(job.get("SubmitTime") or 0), self.thresholds.job_ns):
            return False
        if any(e.get("Status") not in _TERMINAL_EVAL for e in evals):
            return False
        return all(m.alloc_client_terminal(a) for a in allocs)

    def _alloc_collectable(self, alloc: Allocation, job: Job | None, old: _Old) -> bool:
        if not m.alloc_client_terminal(alloc):
            return False
        if not old(int(alloc.get("ModifyTime") or 0), self.thresholds.eval_ns):
            return False
        if job is None or job.get("Stop") or job.get("Status") == m.JOB_DEAD:
            return True
        if alloc.get("DesiredStatus") in (m.ALLOC_DESIRED_STOP, m.ALLOC_DESIRED_EVICT):
            return True
        return bool(alloc.get("NextAllocation"))

    def _deployment_needed(self, dep: Deployment, job: Job | None) -> bool:
        if any(
            a.get("DeploymentID") == dep["ID"] and not m.alloc_client_terminal(a)
            for a in self.store.allocs.values()
        ):
            return True
        if job is None or job.get("Stop"):
            return False
        latest = max(
            self.store.deployments_for_job(str(job.get("Namespace") or "default"), job["ID"]),
            key=lambda d: int(d.get("CreateIndex") or 0),
            default=None,
        )
        return latest is not None and latest["ID"] == dep["ID"]

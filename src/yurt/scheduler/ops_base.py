"""What every scheduler operation shares: the store, the broker, and the writes that each
concept's operations make the same way (an evaluation, a job version, the job a request
names).

Each operation is one SQLite transaction; it returns only after the commit, then hands the
new pending evaluations to the broker. The concepts live in `ops_jobs`, `ops_periodic`,
`ops_allocations`, `ops_deployments`, `ops_nodes` and `ops_evaluations`;
`yurt.scheduler.operations.Operations` composes them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from yurt.scheduler import model as m
from yurt.scheduler import store as s
from yurt.scheduler.broker import EvalBroker
from yurt.scheduler.errors import NotFound
from yurt.scheduler.job_keys import SERVER_FIELDS
from yurt.scheduler.reconcile import Scheduler
from yurt.scheduler.structs import Evaluation, Job

# A request body before it is checked (a client update, a submission): free-form JSON.
Obj = dict[str, Any]

# Nomad keeps six versions of a job (JobTrackedVersions).
TRACKED_VERSIONS = 6


def spec_of(job: Mapping[str, Any]) -> str:
    """The job as the user wrote it: registering a job that differs only in what the server
    sets changes nothing."""
    return json.dumps({k: v for k, v in job.items() if k not in SERVER_FIELDS}, sort_keys=True)


_Doc = TypeVar("_Doc", bound=Mapping[str, Any])


def json_copy(obj: _Doc) -> _Doc:
    """A copy that shares nothing with the stored object, made as the store makes its rows
    (a stored object is JSON and nothing else); of the same type (the copy of a typed
    struct is that struct)."""
    copied: _Doc = json.loads(json.dumps(obj))
    return copied


class OpsBase:
    def __init__(
        self,
        store: s.Store,
        broker: EvalBroker,
        scheduler: Scheduler,
        *,
        heartbeat_ttl: int,
        on_node_alive: Callable[[str], None] | None = None,
    ) -> None:
        self.store = store
        self.broker = broker
        self.scheduler = scheduler
        self.heartbeat_ttl = heartbeat_ttl
        self.on_node_alive = on_node_alive
        self.evals_processed = 0
        self.allocs_placed = 0
        self.eval_latencies_ns: list[int] = []

    def _enqueue(self, evals: list[Evaluation]) -> None:
        for ev in evals:
            if ev["Status"] == m.EVAL_PENDING:
                self.broker.enqueue(ev)

    def _put_eval(self, txn: s.Txn, ev: Evaluation) -> Evaluation:
        if not ev["CreateIndex"]:
            ev["CreateIndex"] = txn.index
        ev["ModifyIndex"] = txn.index
        txn.put(s.EVAL, ev["ID"], ev)
        return ev

    def stored_job(self, namespace: str, job_id: str) -> Job | None:
        """The job as stored (the store keeps JSON dicts: here they become Jobs)."""
        return self.store.job(namespace, job_id)

    def stored_jobs(self) -> list[Job]:
        return self.store.jobs()

    def _put_job(self, txn: s.Txn, job: Job) -> None:
        """The job and its version; versions past the tracked number are dropped."""
        ns = job["Namespace"]
        txn.put(s.JOB, s.job_key(ns, job["ID"]), job)
        txn.put(s.JOB_VERSION, s.version_key(ns, job["ID"], int(job["Version"])), job)
        versions = self.store.job_versions(ns, job["ID"])
        kept = {int(job["Version"])}
        for old in versions:
            if len(kept) >= TRACKED_VERSIONS:
                txn.delete(s.JOB_VERSION, s.version_key(ns, job["ID"], int(old["Version"])))
            else:
                kept.add(int(old["Version"]))

    def job_or_404(self, namespace: str, job_id: str) -> Job:
        job = self.stored_job(namespace, job_id)
        if job is None:
            raise NotFound("job not found")
        return job

    def job_status(self, job: Mapping[str, Any]) -> str:
        return m.job_status(
            job,
            self.store.allocs_for_job(job["Namespace"], job["ID"]),
            self.store.evals_for_job(job["Namespace"], job["ID"]),
        )

    def _job_or_stub(self, namespace: str, job_id: str, job_type: str = "service") -> Job:
        """The job an allocation or deployment belongs to, or enough of it to name in an
        evaluation when it is gone (purged)."""
        return self.stored_job(namespace, job_id) or {
            "ID": job_id,
            "Namespace": namespace,
            "Type": job_type,
        }

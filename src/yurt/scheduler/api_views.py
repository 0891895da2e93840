"""How the scheduler's stored objects are shown by its API: a job with its computed status,
a job's summary (with its children for periodic and parameterized jobs), an allocation with
the job version it runs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from yurt.scheduler import model as m
from yurt.scheduler.api_common import Obj

if TYPE_CHECKING:
    from yurt.scheduler.server import SchedulerServer


def job_view(server: SchedulerServer, job: Obj) -> Obj:
    out = dict(job)
    out["Status"] = server.ops.job_status(job)
    return out


def job_summary(server: SchedulerServer, job: Obj) -> Obj:
    store = server.store
    ns, jid = job["Namespace"], job["ID"]
    children = (
        [job_view(server, j) for j in store.jobs() if j.get("ParentID") == jid]
        if job.get("Periodic") or job.get("ParameterizedJob")
        else []
    )
    return m.job_summary(job, store.allocs_for_job(ns, jid), store.evals_for_job(ns, jid), children)


def alloc_view(server: SchedulerServer, alloc: Obj) -> Obj:
    store = server.store
    out = dict(alloc)
    job = store.job_version(alloc["Namespace"], alloc["JobID"], alloc.get("JobVersion", 0))
    if job is None:
        job = store.job(alloc["Namespace"], alloc["JobID"])
    out["Job"] = job
    return out

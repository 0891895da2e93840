"""Child jobs: periodic launches (by cron, or forced with `nomad job periodic force`) and
dispatches of parameterized jobs, with Nomad's checks of meta keys and payload."""

from __future__ import annotations

import base64
import secrets
import time
from datetime import UTC, datetime

from yurt.scheduler import model as m
from yurt.scheduler.cron import Cron, CronError
from yurt.scheduler.errors import InvalidRequest
from yurt.scheduler.ops_base import OpsBase, json_copy
from yurt.scheduler.responses import JobDispatchResponse, PeriodicForceResponse
from yurt.scheduler.structs import Evaluation, Job


class PeriodicOps(OpsBase):
    def _launch_child(
        self,
        parent: Job,
        child_id: str,
        *,
        meta: dict[str, str] | None = None,
        payload: str = "",
        trigger: str = m.TRIGGER_PERIODIC,
    ) -> tuple[Job, Evaluation]:
        child = json_copy(parent)
        child["ID"] = child_id
        child["Name"] = child_id
        child["ParentID"] = parent["ID"]
        child["Periodic"] = None
        child["ParameterizedJob"] = None
        child["Dispatched"] = trigger != m.TRIGGER_PERIODIC
        child["Payload"] = payload or None
        if meta:
            child["Meta"] = {**(child.get("Meta") or {}), **meta}
        child["Stop"] = False
        with self.store.write() as txn:
            child["Version"] = 0
            child["CreateIndex"] = txn.index
            child["JobModifyIndex"] = txn.index
            child["ModifyIndex"] = txn.index
            child["SubmitTime"] = m.now_ns()
            child["Status"] = m.JOB_PENDING
            child["Stable"] = False
            self._put_job(txn, child)
            ev = self._put_eval(txn, m.new_eval(child, trigger, txn.index))
        self._enqueue([ev])
        return child, ev

    def force_periodic(self, namespace: str, job_id: str) -> PeriodicForceResponse:
        job = self.job_or_404(namespace, job_id)
        if not (job.get("Periodic") or {}).get("Enabled", True) or not job.get("Periodic"):
            raise InvalidRequest("job is not periodic")
        _, ev = self._launch_child(job, f"{job_id}/periodic-{int(time.time())}")
        return {"EvalID": ev["ID"], "EvalCreateIndex": ev["CreateIndex"], "Index": self.store.index}

    def dispatch(
        self, namespace: str, job_id: str, payload: str, meta: dict[str, str]
    ) -> JobDispatchResponse:
        job = self.job_or_404(namespace, job_id)
        check_dispatch(job, payload, meta)
        child_id = f"{job_id}/dispatch-{int(time.time())}-{secrets.token_hex(4)}"
        child, ev = self._launch_child(
            job, child_id, meta=meta, payload=payload, trigger=m.TRIGGER_JOB_REGISTER
        )
        return {
            "Index": self.store.index,
            "JobCreateIndex": child["CreateIndex"],
            "EvalID": ev["ID"],
            "EvalCreateIndex": ev["CreateIndex"],
            "DispatchedJobID": child_id,
        }

    def periodic_due(self, now: datetime) -> list[tuple[Job, datetime]]:
        """Periodic parents and their next launch after `now` (for the launcher)."""
        out = []
        for job in self.stored_jobs():
            periodic = job.get("Periodic")
            if not periodic or job.get("Stop") or periodic.get("Enabled") is False:
                continue
            try:
                nxt = Cron(str(periodic.get("Spec") or "")).next_after(now)
            except CronError:
                continue
            if nxt is not None:
                out.append((job, nxt))
        return out

    def launch_periodic(self, job: Job, when: datetime) -> None:
        current = self.stored_job(job["Namespace"], job["ID"])
        if current is None or current.get("Stop"):
            return
        periodic = current.get("Periodic") or {}
        if periodic.get("ProhibitOverlap"):
            for child in self.stored_jobs():
                if child.get("ParentID") == job["ID"] and self.job_status(child) != m.JOB_DEAD:
                    return
        child_id = f"{job['ID']}/periodic-{int(when.replace(tzinfo=UTC).timestamp())}"
        if self.store.job(job["Namespace"], child_id) is not None:
            return
        self._launch_child(current, child_id)


def check_dispatch(job: Job, payload: str, meta: dict[str, str]) -> None:
    """Whether `job` may be dispatched with this payload and meta, as Nomad's
    `validateDispatchRequest` judges (its texts)."""
    job_id = job["ID"]
    param = job.get("ParameterizedJob")
    if not param:
        raise InvalidRequest(f'Specified job "{job_id}" is not a parameterized job')
    if job.get("Stop"):
        raise InvalidRequest(f'Specified job "{job_id}" is stopped')
    required = param.get("MetaRequired") or []
    optional = param.get("MetaOptional") or []
    missing = [k for k in required if k not in meta]
    if missing:
        raise InvalidRequest(f"Dispatch did not provide required meta keys: {', '.join(missing)}")
    unknown = [k for k in meta if k not in required and k not in optional]
    if unknown:
        raise InvalidRequest(
            f"Dispatch contains unpermitted meta keys: {', '.join(unknown)}. "
            f"Permitted keys: {', '.join(list(required) + list(optional))}"
        )
    mode = param.get("Payload") or "optional"
    if mode == "required" and not payload:
        raise InvalidRequest("Payload is not provided but required by parameterized job")
    if mode == "forbidden" and payload:
        raise InvalidRequest("Payload provided but forbidden by parameterized job")
    if payload:
        try:
            base64.b64decode(payload, validate=True)
        except ValueError:
            raise InvalidRequest("Payload: expected base64") from None

"""Job operations: register (with Nomad's check-and-set and preserved counts), deregister
and purge, force an evaluation, scale a group, revert to a version, mark a version stable."""

from __future__ import annotations

from yurt.scheduler import model as m
from yurt.scheduler import store as s
from yurt.scheduler.errors import Conflict, InvalidRequest, NotFound
from yurt.scheduler.ops_base import Obj, OpsBase, json_copy, spec_of
from yurt.scheduler.responses import (
    JobDeregisterResponse,
    JobRegisterResponse,
    JobStabilityResponse,
)
from yurt.scheduler.structs import Evaluation, Job


class JobOps(OpsBase):
    def register_job(
        self,
        job: Job,
        *,
        enforce_index: bool = False,
        job_modify_index: int = 0,
        preserve_counts: bool = False,
        submission: Obj | None = None,
        triggered_by: str = m.TRIGGER_JOB_REGISTER,
        stable: bool = False,
    ) -> JobRegisterResponse:
        namespace = job.get("Namespace") or m.DEFAULT_NAMESPACE
        job["Namespace"] = namespace
        existing = self.stored_job(namespace, job["ID"])
        if enforce_index:
            _check_modify_index(existing, job_modify_index)
        if preserve_counts and existing is not None:
            counts = {tg["Name"]: tg.get("Count") for tg in existing.get("TaskGroups") or []}
            for tg in job.get("TaskGroups") or []:
                if tg["Name"] in counts:
                    tg["Count"] = counts[tg["Name"]]
        changed = existing is None or spec_of(existing) != spec_of(job)
        evals: list[Evaluation] = []
        with self.store.write() as txn:
            if changed:
                job["Version"] = int(existing["Version"]) + 1 if existing else 0
                job["CreateIndex"] = existing["CreateIndex"] if existing else txn.index
                job["JobModifyIndex"] = txn.index
                job["SubmitTime"] = m.now_ns()
                job["Stable"] = stable
                job["Status"] = m.JOB_PENDING
                job["StatusDescription"] = ""
            else:
                assert existing is not None
                job = existing.copy()
            job["ModifyIndex"] = txn.index
            self._put_job(txn, job)
            if submission:
                _put_submission(txn, job, submission)
            if not (job.get("Periodic") or job.get("ParameterizedJob")) or job.get("Stop"):
                evals.append(self._put_eval(txn, m.new_eval(job, triggered_by, txn.index)))
        self._enqueue(evals)
        ev = evals[0] if evals else None
        return {
            "EvalID": ev["ID"] if ev else "",
            "EvalCreateIndex": ev["CreateIndex"] if ev else 0,
            "JobModifyIndex": job["JobModifyIndex"],
            "Warnings": "",
            "Index": self.store.index,
            "LastContact": 0,
            "KnownLeader": True,
        }

    def deregister_job(self, namespace: str, job_id: str, *, purge: bool) -> JobDeregisterResponse:
        """Stop (a new version with `Stop`) or purge a job. As Nomad's `Job.Deregister`, a
        job that is not there (never was, or already purged) is no error: the answer is
        an evaluation all the same, which finds nothing to stop."""
        job = self.stored_job(namespace, job_id)
        with self.store.write() as txn:
            if job is None:
                stopped = self._job_or_stub(namespace, job_id)
            elif purge:
                txn.delete(s.JOB, s.job_key(namespace, job_id))
                stopped = job.copy()
                stopped["Stop"] = True
            else:
                stopped = job.copy()
                if not job.get("Stop"):
                    # Nomad's FSM copies the current job and sets Stop: the new version
                    # keeps the job's SubmitTime and Stable.
                    stopped["Stop"] = True
                    stopped["Version"] = int(job["Version"]) + 1
                    stopped["JobModifyIndex"] = txn.index
                stopped["ModifyIndex"] = txn.index
                self._put_job(txn, stopped)
            ev = self._put_eval(txn, m.new_eval(stopped, m.TRIGGER_JOB_DEREGISTER, txn.index))
        self._enqueue([ev])
        return {
            "EvalID": ev["ID"],
            "EvalCreateIndex": ev["CreateIndex"],
            "JobModifyIndex": txn.index,
            "VolumeEvalID": "",
            "VolumeEvalIndex": 0,
            "Index": self.store.index,
            "LastContact": 0,
            "KnownLeader": True,
        }

    def evaluate_job(
        self, namespace: str, job_id: str, *, force_reschedule: bool = False
    ) -> JobRegisterResponse:
        job = self.job_or_404(namespace, job_id)
        if job.get("Periodic") or job.get("ParameterizedJob"):
            raise InvalidRequest("can't evaluate periodic or parameterized job")
        with self.store.write() as txn:
            if force_reschedule:
                self._force_reschedule(txn, namespace, job_id)
            ev = self._put_eval(txn, m.new_eval(job, m.TRIGGER_JOB_REGISTER, txn.index))
        self._enqueue([ev])
        return {
            "EvalID": ev["ID"],
            "EvalCreateIndex": ev["CreateIndex"],
            "JobModifyIndex": job["JobModifyIndex"],
            "Index": self.store.index,
        }

    def _force_reschedule(self, txn: s.Txn, namespace: str, job_id: str) -> None:
        """`nomad job eval -force-reschedule`: failed allocations are replaced now, whatever
        their reschedule policy says."""
        for alloc in self.store.allocs_for_job(namespace, job_id):
            if (
                alloc.get("ClientStatus") == m.ALLOC_FAILED
                and not alloc.get("NextAllocation")
                and alloc.get("DesiredStatus") == m.ALLOC_DESIRED_RUN
            ):
                upd = alloc.copy()
                upd["DesiredTransition"] = {
                    **(alloc.get("DesiredTransition") or {}),
                    "ForceReschedule": True,
                }
                upd["ModifyIndex"] = txn.index
                upd["AllocModifyIndex"] = txn.index
                txn.put(s.ALLOC, upd["ID"], upd)

    def scale_job(
        self, namespace: str, job_id: str, group: str, count: int | None
    ) -> JobRegisterResponse:
        job = self.job_or_404(namespace, job_id)
        names = [tg["Name"] for tg in job.get("TaskGroups") or []]
        if group not in names:
            raise InvalidRequest(
                f'task group "{group}" specified for scaling does not exist in job'
            )
        if count is None:
            return {
                "EvalID": "",
                "EvalCreateIndex": 0,
                "JobModifyIndex": job["JobModifyIndex"],
                "Index": self.store.index,
            }
        if count < 0:
            raise InvalidRequest("scaling action count can't be negative")
        new = json_copy(job)
        for tg in new.get("TaskGroups") or []:
            if tg["Name"] == group:
                tg["Count"] = count
        new["Stop"] = False
        return self.register_job(new, triggered_by=m.TRIGGER_SCALING)

    def revert_job(
        self, namespace: str, job_id: str, version: int, enforce_prior: int | None
    ) -> JobRegisterResponse:
        job = self.job_or_404(namespace, job_id)
        if enforce_prior is not None and int(job["Version"]) != enforce_prior:
            raise InvalidRequest(
                f"enforcing version {enforce_prior} but current version is {job['Version']}"
            )
        if int(job["Version"]) == version:
            raise InvalidRequest(f"can't revert to current version {version}")
        old = self.store.job_version(namespace, job_id, version)
        if old is None:
            raise InvalidRequest(f"job {job_id!r} at version {version} not found")
        return self.register_job(json_copy(old))

    def set_stable(
        self, namespace: str, job_id: str, version: int, stable: bool
    ) -> JobStabilityResponse:
        old = self.store.job_version(namespace, job_id, version)
        if old is None:
            raise NotFound("job not found")
        with self.store.write() as txn:
            upd = old.copy()
            upd["Stable"] = stable
            txn.put(s.JOB_VERSION, s.version_key(namespace, job_id, version), upd)
            current = self.store.job(namespace, job_id)
            if current is not None and int(current["Version"]) == version:
                cur = current.copy()
                cur["Stable"] = stable
                cur["ModifyIndex"] = txn.index
                txn.put(s.JOB, s.job_key(namespace, job_id), cur)
        return {"JobModifyIndex": txn.index, "Index": txn.index}


def _check_modify_index(existing: Job | None, job_modify_index: int) -> None:
    """Nomad's `-check-index`: 0 means "only if new"; otherwise the current index must match."""
    if job_modify_index == 0 and existing is not None:
        raise Conflict("Enforcing job modify index 0: job already exists")
    if job_modify_index and (existing is None or existing["JobModifyIndex"] != job_modify_index):
        current = existing["JobModifyIndex"] if existing else 0
        raise Conflict(
            f"Enforcing job modify index {job_modify_index}: job exists with "
            f"conflicting job modify index: {current}"
        )


def _put_submission(txn: s.Txn, job: Job, submission: Obj) -> None:
    """The job file as submitted (`nomad job inspect -hcl`), kept per version."""
    namespace = job["Namespace"]
    txn.put(
        s.SUBMISSION,
        s.version_key(namespace, job["ID"], int(job["Version"])),
        {
            "JobID": job["ID"],
            "Namespace": namespace,
            "Version": job["Version"],
            "Source": submission.get("Source", ""),
            "Format": submission.get("Format", ""),
            "VariableFlags": submission.get("VariableFlags"),
            "Variables": submission.get("Variables", ""),
        },
    )

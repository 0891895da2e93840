"""Every state change of the scheduler, each one SQLite transaction.

The HTTP API and the internal client protocol call these; each returns only after its
transaction has committed, then hands new pending evaluations to the broker.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from yurt.api.errors import APIError
from yurt.scheduler import model as m
from yurt.scheduler import plan_apply
from yurt.scheduler import store as s
from yurt.scheduler.broker import EvalBroker
from yurt.scheduler.cron import Cron, CronError
from yurt.scheduler.placement import computed_class
from yurt.scheduler.reconcile import Plan, Scheduler

log = logging.getLogger(__name__)

Obj = dict[str, Any]

TRACKED_VERSIONS = 6
_SPEC_IGNORED = (
    "Status",
    "StatusDescription",
    "Stable",
    "Version",
    "SubmitTime",
    "CreateIndex",
    "ModifyIndex",
    "JobModifyIndex",
)


def spec_of(job: Obj) -> str:
    return json.dumps({k: v for k, v in job.items() if k not in _SPEC_IGNORED}, sort_keys=True)


class Operations:
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

    # helpers ---------------------------------------------------------------------------

    def _enqueue(self, evals: list[Obj]) -> None:
        for ev in evals:
            if ev["Status"] == m.EVAL_PENDING:
                self.broker.enqueue(ev)

    def _put_eval(self, txn: s.Txn, ev: Obj) -> Obj:
        if not ev["CreateIndex"]:
            ev["CreateIndex"] = txn.index
        ev["ModifyIndex"] = txn.index
        txn.put(s.EVAL, ev["ID"], ev)
        return ev

    def _put_job(self, txn: s.Txn, job: Obj) -> None:
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

    def job_or_404(self, namespace: str, job_id: str) -> Obj:
        job = self.store.job(namespace, job_id)
        if job is None:
            raise APIError.not_found("job not found")
        return job

    # jobs ------------------------------------------------------------------------------

    def register_job(
        self,
        job: Obj,
        *,
        enforce_index: bool = False,
        job_modify_index: int = 0,
        preserve_counts: bool = False,
        submission: Obj | None = None,
        triggered_by: str = m.TRIGGER_JOB_REGISTER,
        stable: bool = False,
    ) -> Obj:
        namespace = job.get("Namespace") or m.DEFAULT_NAMESPACE
        job["Namespace"] = namespace
        existing = self.store.job(namespace, job["ID"])
        if enforce_index:
            if job_modify_index == 0 and existing is not None:
                raise APIError.conflict("Enforcing job modify index 0: job already exists")
            if job_modify_index and (
                existing is None or existing["JobModifyIndex"] != job_modify_index
            ):
                current = existing["JobModifyIndex"] if existing else 0
                raise APIError.conflict(
                    f"Enforcing job modify index {job_modify_index}: job exists with "
                    f"conflicting job modify index: {current}"
                )
        if preserve_counts and existing is not None:
            counts = {tg["Name"]: tg.get("Count") for tg in existing.get("TaskGroups") or []}
            for tg in job.get("TaskGroups") or []:
                if tg["Name"] in counts:
                    tg["Count"] = counts[tg["Name"]]
        changed = existing is None or spec_of(existing) != spec_of(job)
        evals: list[Obj] = []
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
                job = dict(existing)
            job["ModifyIndex"] = txn.index
            self._put_job(txn, job)
            if submission:
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

    def deregister_job(self, namespace: str, job_id: str, *, purge: bool) -> Obj:
        job = self.job_or_404(namespace, job_id)
        with self.store.write() as txn:
            if purge:
                txn.delete(s.JOB, s.job_key(namespace, job_id))
                stopped = dict(job)
                stopped["Stop"] = True
            else:
                stopped = dict(job)
                if not job.get("Stop"):
                    stopped["Stop"] = True
                    stopped["Version"] = int(job["Version"]) + 1
                    stopped["JobModifyIndex"] = txn.index
                    stopped["SubmitTime"] = m.now_ns()
                    stopped["Stable"] = False
                stopped["ModifyIndex"] = txn.index
                self._put_job(txn, stopped)
            ev = self._put_eval(txn, m.new_eval(stopped, m.TRIGGER_JOB_DEREGISTER, txn.index))
        self._enqueue([ev])
        return {
            "EvalID": ev["ID"],
            "EvalCreateIndex": ev["CreateIndex"],
            "JobModifyIndex": stopped.get("JobModifyIndex", txn.index),
            "VolumeEvalID": "",
            "VolumeEvalIndex": 0,
            "Index": self.store.index,
            "LastContact": 0,
            "KnownLeader": True,
        }

    def evaluate_job(self, namespace: str, job_id: str, *, force_reschedule: bool = False) -> Obj:
        job = self.job_or_404(namespace, job_id)
        if job.get("Periodic") or job.get("ParameterizedJob"):
            raise APIError.bad_request("can't evaluate periodic or parameterized job")
        with self.store.write() as txn:
            if force_reschedule:
                # `nomad job eval -force-reschedule`: failed allocations are replaced now,
                # whatever their reschedule policy says.
                for alloc in self.store.allocs_for_job(namespace, job_id):
                    if (
                        alloc.get("ClientStatus") == m.ALLOC_FAILED
                        and not alloc.get("NextAllocation")
                        and alloc.get("DesiredStatus") == m.ALLOC_DESIRED_RUN
                    ):
                        upd = dict(alloc)
                        upd["DesiredTransition"] = {
                            **(alloc.get("DesiredTransition") or {}),
                            "ForceReschedule": True,
                        }
                        upd["ModifyIndex"] = txn.index
                        upd["AllocModifyIndex"] = txn.index
                        txn.put(s.ALLOC, upd["ID"], upd)
            ev = self._put_eval(txn, m.new_eval(job, m.TRIGGER_JOB_REGISTER, txn.index))
        self._enqueue([ev])
        return {
            "EvalID": ev["ID"],
            "EvalCreateIndex": ev["CreateIndex"],
            "JobModifyIndex": job["JobModifyIndex"],
            "Index": self.store.index,
        }

    def scale_job(self, namespace: str, job_id: str, group: str, count: int | None) -> Obj:
        job = self.job_or_404(namespace, job_id)
        names = [tg["Name"] for tg in job.get("TaskGroups") or []]
        if group not in names:
            raise APIError.bad_request(
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
            raise APIError.bad_request("scaling action count can't be negative")
        new = json.loads(json.dumps(job))
        for tg in new["TaskGroups"]:
            if tg["Name"] == group:
                tg["Count"] = count
        new["Stop"] = False
        return self.register_job(new, triggered_by=m.TRIGGER_SCALING)

    def revert_job(
        self, namespace: str, job_id: str, version: int, enforce_prior: int | None
    ) -> Obj:
        job = self.job_or_404(namespace, job_id)
        if enforce_prior is not None and int(job["Version"]) != enforce_prior:
            raise APIError.bad_request(
                f"enforcing version {enforce_prior} but current version is {job['Version']}"
            )
        if int(job["Version"]) == version:
            raise APIError.bad_request(f"can't revert to current version {version}")
        old = self.store.job_version(namespace, job_id, version)
        if old is None:
            raise APIError.bad_request(f"job {job_id!r} at version {version} not found")
        new = json.loads(json.dumps(old))
        return self.register_job(new)

    def set_stable(self, namespace: str, job_id: str, version: int, stable: bool) -> Obj:
        old = self.store.job_version(namespace, job_id, version)
        if old is None:
            raise APIError.not_found("job not found")
        with self.store.write() as txn:
            upd = dict(old)
            upd["Stable"] = stable
            txn.put(s.JOB_VERSION, s.version_key(namespace, job_id, version), upd)
            current = self.store.job(namespace, job_id)
            if current is not None and int(current["Version"]) == version:
                cur = dict(current)
                cur["Stable"] = stable
                cur["ModifyIndex"] = txn.index
                txn.put(s.JOB, s.job_key(namespace, job_id), cur)
        return {"JobModifyIndex": txn.index, "Index": txn.index}

    def _launch_child(
        self,
        parent: Obj,
        child_id: str,
        *,
        meta: Obj | None = None,
        payload: str = "",
        trigger: str = m.TRIGGER_PERIODIC,
    ) -> tuple[Obj, Obj]:
        child = json.loads(json.dumps(parent))
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

    def force_periodic(self, namespace: str, job_id: str) -> Obj:
        job = self.job_or_404(namespace, job_id)
        if not (job.get("Periodic") or {}).get("Enabled", True) or not job.get("Periodic"):
            raise APIError.bad_request("job is not periodic")
        _, ev = self._launch_child(job, f"{job_id}/periodic-{int(time.time())}")
        return {"EvalID": ev["ID"], "EvalCreateIndex": ev["CreateIndex"], "Index": self.store.index}

    def dispatch(self, namespace: str, job_id: str, payload: str, meta: Obj) -> Obj:
        job = self.job_or_404(namespace, job_id)
        param = job.get("ParameterizedJob")
        if not param:
            raise APIError.bad_request(f'Specified job "{job_id}" is not a parameterized job')
        if job.get("Stop"):
            raise APIError.bad_request(f'Specified job "{job_id}" is stopped')
        required = param.get("MetaRequired") or []
        optional = param.get("MetaOptional") or []
        missing = [k for k in required if k not in meta]
        if missing:
            raise APIError.bad_request(
                f"Dispatch did not provide required meta keys: {', '.join(missing)}"
            )
        unknown = [k for k in meta if k not in required and k not in optional]
        if unknown:
            raise APIError.bad_request(
                f"Dispatch contains unpermitted meta keys: {', '.join(unknown)}. "
                f"Permitted keys: {', '.join(list(required) + list(optional))}"
            )
        mode = param.get("Payload") or "optional"
        if mode == "required" and not payload:
            raise APIError.bad_request("Payload is not provided but required by parameterized job")
        if mode == "forbidden" and payload:
            raise APIError.bad_request("Payload provided but forbidden by parameterized job")
        if payload:
            try:
                base64.b64decode(payload, validate=True)
            except ValueError:
                raise APIError.bad_request("Payload: expected base64") from None
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

    def periodic_due(self, now: datetime) -> list[tuple[Obj, datetime]]:
        """Periodic parents and their next launch after `now` (for the launcher)."""
        out = []
        for job in self.store.jobs():
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

    def launch_periodic(self, job: Obj, when: datetime) -> None:
        current = self.store.job(job["Namespace"], job["ID"])
        if current is None or current.get("Stop"):
            return
        periodic = current.get("Periodic") or {}
        if periodic.get("ProhibitOverlap"):
            for child in self.store.jobs():
                if child.get("ParentID") == job["ID"] and self.job_status(child) != m.JOB_DEAD:
                    return
        child_id = f"{job['ID']}/periodic-{int(when.replace(tzinfo=UTC).timestamp())}"
        if self.store.job(job["Namespace"], child_id) is not None:
            return
        self._launch_child(current, child_id)

    def job_status(self, job: Obj) -> str:
        return m.job_status(
            job,
            self.store.allocs_for_job(job["Namespace"], job["ID"]),
            self.store.evals_for_job(job["Namespace"], job["ID"]),
        )

    # allocations -----------------------------------------------------------------------

    def stop_alloc(self, alloc: Obj) -> Obj:
        job = self.store.job(alloc["Namespace"], alloc["JobID"]) or {
            "ID": alloc["JobID"],
            "Namespace": alloc["Namespace"],
            "Type": alloc.get("JobType", "service"),
        }
        with self.store.write() as txn:
            upd = dict(alloc)
            upd["DesiredTransition"] = {**(alloc.get("DesiredTransition") or {}), "Migrate": True}
            upd["ModifyIndex"] = txn.index
            upd["AllocModifyIndex"] = txn.index
            txn.put(s.ALLOC, upd["ID"], upd)
            ev = self._put_eval(txn, m.new_eval(job, m.TRIGGER_ALLOC_STOP, txn.index))
        self._enqueue([ev])
        return {"EvalID": ev["ID"], "Index": txn.index}

    def client_update_allocs(self, node_id: str, updates: list[Obj]) -> int:
        evals: list[Obj] = []
        touched_deployments: set[str] = set()
        with self.store.write() as txn:
            for upd in updates:
                alloc_id = upd.get("ID") or ""
                alloc = self.store.tables[s.ALLOC].get(alloc_id)
                if alloc is None or alloc.get("NodeID") != node_id:
                    raise APIError.bad_request(f"allocation {alloc_id} is not on node {node_id}")
                new = dict(alloc)
                was = alloc.get("ClientStatus")
                # A lost allocation stays lost: the server already replaced it.
                if was != m.ALLOC_LOST:
                    for key in ("ClientStatus", "ClientDescription", "TaskStates", "NetworkStatus"):
                        if key in upd:
                            new[key] = upd[key]
                if upd.get("DeploymentStatus") is not None:
                    # Whether it is a canary is the server's to say; the client reports health.
                    was_canary = bool((alloc.get("DeploymentStatus") or {}).get("Canary"))
                    new["DeploymentStatus"] = {
                        **upd["DeploymentStatus"],
                        "Canary": was_canary,
                        "ModifyIndex": txn.index,
                    }
                    if new.get("DeploymentID"):
                        touched_deployments.add(new["DeploymentID"])
                new["ModifyIndex"] = txn.index
                new["ModifyTime"] = m.now_ns()
                txn.put(s.ALLOC, alloc_id, new)
                if (
                    new.get("ClientStatus") == m.ALLOC_FAILED
                    and was != m.ALLOC_FAILED
                    and new.get("DesiredStatus") == m.ALLOC_DESIRED_RUN
                ):
                    job = self.store.job(new["Namespace"], new["JobID"])
                    if job is not None and not job.get("Stop"):
                        evals.append(
                            self._put_eval(
                                txn, m.new_eval(job, m.TRIGGER_RETRY_FAILED_ALLOC, txn.index)
                            )
                        )
        self._enqueue(evals)
        for dep_id in touched_deployments:
            self._watch_deployment(dep_id)
        self._finish_drains()
        return self.store.index

    # deployments -----------------------------------------------------------------------

    def _watch_deployment(self, dep_id: str, *, check_deadline: bool = False) -> None:
        """Nomad's deployment watcher: count healthy allocations, promote canaries when
        `auto_promote`, finish, fail (unhealthy allocation or progress deadline) and
        auto-revert, or let the rolling update go on."""
        dep = self.store.tables[s.DEPLOYMENT].get(dep_id)
        if dep is None or dep["Status"] != m.DEPLOY_RUNNING:
            return
        allocs = [
            a
            for a in self.store.allocs_for_job(dep["Namespace"], dep["JobID"])
            if a.get("DeploymentID") == dep_id
        ]
        new = json.loads(json.dumps(dep))
        now = m.now_ns()
        done = True
        failure = ""
        needs_promotion = False
        promoted_now = False
        progressed = False
        for name, tg in new["TaskGroups"].items():
            mine = [a for a in allocs if a["TaskGroup"] == name]
            live = [a for a in mine if not m.alloc_is_terminal(a)]
            healthy = sum(1 for a in live if (a.get("DeploymentStatus") or {}).get("Healthy"))
            if healthy > int(tg.get("HealthyAllocs") or 0):
                progressed = True
                if tg.get("ProgressDeadline"):
                    tg["RequireProgressBy"] = m.rfc3339(now + int(tg["ProgressDeadline"]))
            tg["PlacedAllocs"] = len(mine)
            tg["HealthyAllocs"] = healthy
            tg["UnhealthyAllocs"] = sum(
                1 for a in mine if (a.get("DeploymentStatus") or {}).get("Healthy") is False
            )
            tg["PlacedCanaries"] = [
                a["ID"] for a in mine if (a.get("DeploymentStatus") or {}).get("Canary")
            ] or None
            if tg["UnhealthyAllocs"]:
                failure = "Failed due to unhealthy allocations"
            if int(tg.get("DesiredCanaries") or 0) and not tg.get("Promoted"):
                done = False
                healthy_canaries = sum(
                    1
                    for a in live
                    if (a.get("DeploymentStatus") or {}).get("Canary")
                    and (a.get("DeploymentStatus") or {}).get("Healthy")
                )
                if healthy_canaries >= int(tg["DesiredCanaries"]):
                    if tg.get("AutoPromote"):
                        tg["Promoted"] = True
                        promoted_now = True
                    else:
                        needs_promotion = True
            elif healthy < int(tg["DesiredTotal"]):
                done = False
            deadline = m.parse_rfc3339_ns(tg.get("RequireProgressBy"))
            if check_deadline and not done and deadline and deadline < now and not failure:
                failure = "Failed due to progress deadline"
        if check_deadline and not failure:
            return
        job = self.store.job(dep["Namespace"], dep["JobID"])
        evals: list[Obj] = []
        revert_to: Obj | None = None
        with self.store.write() as txn:
            if failure:
                new["Status"] = m.DEPLOY_FAILED
                new["StatusDescription"] = failure
                if any(tg.get("AutoRevert") for tg in new["TaskGroups"].values()) and job:
                    stable = [
                        v
                        for v in self.store.job_versions(dep["Namespace"], dep["JobID"])
                        if v.get("Stable") and int(v["Version"]) != int(dep["JobVersion"])
                    ]
                    if stable:
                        revert_to = stable[0]
                        new["StatusDescription"] += (
                            f" - rolling back to job version {revert_to['Version']}"
                        )
            elif done:
                new["Status"] = m.DEPLOY_SUCCESSFUL
                new["StatusDescription"] = "Deployment completed successfully"
                self._mark_stable(txn, dep, job)
            else:
                new["StatusDescription"] = (
                    "Deployment is running but requires manual promotion"
                    if needs_promotion
                    else "Deployment is running"
                )
                if job is not None and (progressed or promoted_now):
                    # More healthy allocations: let the rolling update go on.
                    evals.append(
                        self._put_eval(
                            txn,
                            m.new_eval(
                                job, m.TRIGGER_DEPLOYMENT_WATCHER, txn.index, deployment_id=dep_id
                            ),
                        )
                    )
            new["ModifyIndex"] = txn.index
            new["ModifyTime"] = m.now_ns()
            txn.put(s.DEPLOYMENT, dep_id, new)
        self._enqueue(evals)
        if revert_to is not None:
            self.register_job(json.loads(json.dumps(revert_to)))

    def _mark_stable(self, txn: s.Txn, dep: Obj, job: Obj | None) -> None:
        ver = self.store.job_version(dep["Namespace"], dep["JobID"], dep["JobVersion"])
        if ver is None:
            return
        ver = dict(ver)
        ver["Stable"] = True
        txn.put(
            s.JOB_VERSION,
            s.version_key(dep["Namespace"], dep["JobID"], int(dep["JobVersion"])),
            ver,
        )
        if job is not None and int(job["Version"]) == int(dep["JobVersion"]):
            cur = dict(job)
            cur["Stable"] = True
            cur["ModifyIndex"] = txn.index
            txn.put(s.JOB, s.job_key(dep["Namespace"], dep["JobID"]), cur)

    def check_deployment_deadlines(self) -> None:
        now = m.now_ns()
        for dep in list(self.store.tables[s.DEPLOYMENT].values()):
            if dep["Status"] != m.DEPLOY_RUNNING:
                continue
            deadlines = [
                m.parse_rfc3339_ns(tg.get("RequireProgressBy"))
                for tg in (dep.get("TaskGroups") or {}).values()
            ]
            if any(d and d < now for d in deadlines):
                self._watch_deployment(dep["ID"], check_deadline=True)

    def promote_deployment(self, dep: Obj, groups: list[str] | None) -> Obj:
        if dep["Status"] != m.DEPLOY_RUNNING:
            raise APIError.bad_request(
                f"can't promote terminal deployment (status {dep['Status']})"
            )
        new = json.loads(json.dumps(dep))
        allocs = [
            a
            for a in self.store.allocs_for_job(dep["Namespace"], dep["JobID"])
            if a.get("DeploymentID") == dep["ID"] and not m.alloc_is_terminal(a)
        ]
        targets = [
            name
            for name, tg in new["TaskGroups"].items()
            if int(tg.get("DesiredCanaries") or 0) and (groups is None or name in groups)
        ]
        if not targets:
            raise APIError.bad_request("no canaries to promote")
        for name in targets:
            tg = new["TaskGroups"][name]
            healthy = sum(
                1
                for a in allocs
                if a["TaskGroup"] == name
                and (a.get("DeploymentStatus") or {}).get("Canary")
                and (a.get("DeploymentStatus") or {}).get("Healthy")
            )
            if healthy < int(tg["DesiredCanaries"]):
                raise APIError.bad_request(
                    f'Task group "{name}" has {healthy}/{tg["DesiredCanaries"]} healthy allocations'
                )
            tg["Promoted"] = True
        job = self.store.job(dep["Namespace"], dep["JobID"]) or {
            "ID": dep["JobID"],
            "Namespace": dep["Namespace"],
        }
        with self.store.write() as txn:
            new["StatusDescription"] = "Deployment is running"
            new["ModifyIndex"] = txn.index
            txn.put(s.DEPLOYMENT, dep["ID"], new)
            ev = self._put_eval(
                txn,
                m.new_eval(job, m.TRIGGER_DEPLOYMENT_WATCHER, txn.index, deployment_id=dep["ID"]),
            )
        self._enqueue([ev])
        # The promoted canaries may already be all the group wants (count = canary): then
        # no allocation of this deployment changes again, and it is done now.
        self._watch_deployment(dep["ID"])
        return {
            "EvalID": ev["ID"],
            "EvalCreateIndex": ev["CreateIndex"],
            "DeploymentModifyIndex": txn.index,
            "Index": txn.index,
        }

    def pause_deployment(self, dep: Obj, pause: bool) -> Obj:
        if dep["Status"] not in (m.DEPLOY_RUNNING, m.DEPLOY_PAUSED):
            raise APIError.bad_request(
                f"can't {'pause' if pause else 'resume'} terminal deployment "
                f"(status {dep['Status']})"
            )
        status = m.DEPLOY_PAUSED if pause else m.DEPLOY_RUNNING
        desc = "Deployment is paused" if pause else "Deployment is running"
        job = self.store.job(dep["Namespace"], dep["JobID"])
        with self.store.write() as txn:
            new = dict(dep)
            new["Status"] = status
            new["StatusDescription"] = desc
            new["ModifyIndex"] = txn.index
            txn.put(s.DEPLOYMENT, dep["ID"], new)
            evals = []
            if not pause and job is not None:
                evals.append(
                    self._put_eval(
                        txn,
                        m.new_eval(
                            job, m.TRIGGER_DEPLOYMENT_WATCHER, txn.index, deployment_id=dep["ID"]
                        ),
                    )
                )
        self._enqueue(evals)
        if not pause:
            # Health reported while paused counts now (and may auto-promote).
            self._watch_deployment(dep["ID"])
        return {
            "EvalID": evals[0]["ID"] if evals else "",
            "EvalCreateIndex": evals[0]["CreateIndex"] if evals else 0,
            "DeploymentModifyIndex": txn.index,
            "Index": txn.index,
        }

    def set_deployment_status(self, dep: Obj, status: str, desc: str) -> Obj:
        with self.store.write() as txn:
            new = dict(dep)
            new["Status"] = status
            new["StatusDescription"] = desc
            new["ModifyIndex"] = txn.index
            txn.put(s.DEPLOYMENT, dep["ID"], new)
        return {
            "Index": txn.index,
            "DeploymentModifyIndex": txn.index,
            "EvalID": "",
            "EvalCreateIndex": 0,
            "RevertedJobVersion": None,
        }

    # nodes -----------------------------------------------------------------------------

    def register_node(self, node: Obj) -> Obj:
        existing = self.store.tables[s.NODE].get(node["ID"])
        if (
            existing is not None
            and existing.get("SecretID")
            and (existing["SecretID"] != node.get("SecretID"))
        ):
            raise APIError(403, "node secret does not match")
        now_s = int(time.time())
        new = dict(existing or {})
        new.update(node)
        new.setdefault("NodePool", "default")
        new.setdefault("NodeClass", "")
        new.setdefault("Meta", {})
        new["ComputedClass"] = computed_class(new)
        new["Status"] = m.NODE_READY
        new["StatusDescription"] = ""
        new["StatusUpdatedAt"] = now_s
        new.setdefault("SchedulingEligibility", "eligible")
        new.setdefault("DrainStrategy", None)
        new.setdefault("LastDrain", None)
        new.setdefault("TLSEnabled", False)
        new.setdefault("HostVolumes", None)
        new.setdefault("CSIControllerPlugins", None)
        new.setdefault("CSINodePlugins", None)
        new.setdefault("Links", None)
        new.setdefault("Resources", _legacy_resources(new))
        new.setdefault("Reserved", None)
        events = list((existing or {}).get("Events") or [])
        message = "Node registered" if existing is None else "Node re-registered"
        if existing is None or existing.get("Status") != m.NODE_READY:
            events.append(
                {
                    "Message": message,
                    "Subsystem": "Cluster",
                    "Details": None,
                    "Timestamp": m.rfc3339(),
                    "CreateIndex": 0,
                }
            )
        new["Events"] = events[-10:]
        with self.store.write() as txn:
            new["CreateIndex"] = existing["CreateIndex"] if existing else txn.index
            new["ModifyIndex"] = txn.index
            txn.put(s.NODE, new["ID"], new)
            evals = self._node_evals(txn, new, include_system=True)
        self._enqueue(evals)
        if self.on_node_alive is not None:
            self.on_node_alive(new["ID"])
        return {"NodeID": new["ID"], "HeartbeatTTL": self.heartbeat_ttl, "Index": txn.index}

    def _node_evals(self, txn: s.Txn, node: Obj, *, include_system: bool) -> list[Obj]:
        """node-update evals: every job with allocations on the node, system jobs, and the
        blocked evaluations that a changed node may now satisfy."""
        evals: list[Obj] = []
        seen: set[tuple[str, str]] = set()
        for alloc in self.store.allocs_for_node(node["ID"]):
            if m.alloc_is_terminal(alloc):
                continue
            key = (alloc["Namespace"], alloc["JobID"])
            if key in seen:
                continue
            seen.add(key)
            job = self.store.job(*key) or {
                "ID": alloc["JobID"],
                "Namespace": alloc["Namespace"],
                "Type": alloc.get("JobType", "service"),
            }
            evals.append(
                self._put_eval(
                    txn, m.new_eval(job, m.TRIGGER_NODE_UPDATE, txn.index, node_id=node["ID"])
                )
            )
        if include_system:
            for job in self.store.jobs():
                key = (job["Namespace"], job["ID"])
                if key in seen or job.get("Stop"):
                    continue
                if job.get("Type") in ("system", "sysbatch"):
                    seen.add(key)
                    evals.append(
                        self._put_eval(
                            txn,
                            m.new_eval(job, m.TRIGGER_NODE_UPDATE, txn.index, node_id=node["ID"]),
                        )
                    )
            for ev in self.store.tables[s.EVAL].values():
                if ev["Status"] == m.EVAL_BLOCKED:
                    unblocked = dict(ev)
                    unblocked["Status"] = m.EVAL_PENDING
                    unblocked["ModifyTime"] = m.now_ns()
                    evals.append(self._put_eval(txn, unblocked))
        return evals

    def heartbeat(self, node: Obj) -> Obj:
        if node.get("Status") != m.NODE_READY:
            # A node that was marked down and heartbeats again is back.
            return self.register_node({"ID": node["ID"], "SecretID": node.get("SecretID")})
        if self.on_node_alive is not None:
            self.on_node_alive(node["ID"])
        return {"HeartbeatTTL": self.heartbeat_ttl}

    def node_down(self, node_id: str) -> None:
        node = self.store.tables[s.NODE].get(node_id)
        if node is None or node.get("Status") == m.NODE_DOWN:
            return
        log.warning("node %s (%s) missed its heartbeat: marking it down", node_id, node.get("Name"))
        new = dict(node)
        new["Status"] = m.NODE_DOWN
        new["StatusUpdatedAt"] = int(time.time())
        events = list(node.get("Events") or [])
        events.append(
            {
                "Message": "Node heartbeat missed",
                "Subsystem": "Cluster",
                "Details": None,
                "Timestamp": m.rfc3339(),
                "CreateIndex": 0,
            }
        )
        new["Events"] = events[-10:]
        with self.store.write() as txn:
            new["ModifyIndex"] = txn.index
            txn.put(s.NODE, node_id, new)
            evals = self._node_evals(txn, new, include_system=False)
        self._enqueue(evals)

    def set_eligibility(self, node: Obj, eligible: bool) -> Obj:
        if node.get("DrainStrategy") is not None and eligible:
            raise APIError.bad_request(
                "can not set node's scheduling eligibility to eligible while draining"
            )
        new = dict(node)
        new["SchedulingEligibility"] = "eligible" if eligible else "ineligible"
        with self.store.write() as txn:
            new["ModifyIndex"] = txn.index
            txn.put(s.NODE, node["ID"], new)
            evals = self._node_evals(txn, new, include_system=True) if eligible else []
        self._enqueue(evals)
        return {
            "EvalIDs": [e["ID"] for e in evals] or None,
            "EvalCreateIndex": txn.index,
            "NodeModifyIndex": txn.index,
            "Index": txn.index,
        }

    def drain(self, node: Obj, spec: Obj | None, mark_eligible: bool) -> Obj:
        new = dict(node)
        now = m.now_ns()
        if spec:
            deadline = int(spec.get("Deadline") or 0)
            new["DrainStrategy"] = {
                "Deadline": deadline,
                "IgnoreSystemJobs": bool(spec.get("IgnoreSystemJobs")),
                "ForceDeadline": m.rfc3339(now + deadline)
                if deadline > 0
                else "0001-01-01T00:00:00Z",
                "StartedAt": m.rfc3339(now),
            }
            new["SchedulingEligibility"] = "ineligible"
            new["LastDrain"] = {
                "StartedAt": m.rfc3339(now),
                "UpdatedAt": m.rfc3339(now),
                "Status": "draining",
                "AccessorID": "",
                "Meta": None,
            }
        else:
            new["DrainStrategy"] = None
            if mark_eligible:
                new["SchedulingEligibility"] = "eligible"
            if new.get("LastDrain"):
                new["LastDrain"] = {
                    **new["LastDrain"],
                    "Status": "canceled",
                    "UpdatedAt": m.rfc3339(now),
                }
        with self.store.write() as txn:
            new["ModifyIndex"] = txn.index
            txn.put(s.NODE, node["ID"], new)
            evals = self._node_evals(txn, new, include_system=not spec)
        self._enqueue(evals)
        self._finish_drains()
        return {
            "EvalIDs": [e["ID"] for e in evals] or None,
            "EvalCreateIndex": txn.index,
            "NodeModifyIndex": txn.index,
            "Index": txn.index,
        }

    def _finish_drains(self) -> None:
        for node in plan_apply.draining_nodes(self.store):
            busy = any(
                a.get("DesiredStatus") == m.ALLOC_DESIRED_RUN
                and not m.alloc_client_terminal(a)
                and not (
                    node["DrainStrategy"].get("IgnoreSystemJobs")
                    and a.get("JobType") in ("system", "sysbatch")
                )
                for a in self.store.allocs_for_node(node["ID"])
            )
            if busy:
                continue
            new = dict(node)
            new["DrainStrategy"] = None
            new["LastDrain"] = {
                **(node.get("LastDrain") or {}),
                "Status": "complete",
                "UpdatedAt": m.rfc3339(),
            }
            with self.store.write() as txn:
                new["ModifyIndex"] = txn.index
                txn.put(s.NODE, node["ID"], new)

    # evaluations -----------------------------------------------------------------------

    def process_eval(self, eval_id: str) -> None:
        ev = self.store.tables[s.EVAL].get(eval_id)
        if ev is None or ev["Status"] != m.EVAL_PENDING:
            return
        started = time.perf_counter_ns()
        try:
            plan = self.scheduler.plan(ev, m.now_ns())
        except Exception as exc:
            log.exception("evaluation %s failed", eval_id)
            with self.store.write() as txn:
                failed = dict(ev)
                failed["Status"] = m.EVAL_FAILED
                failed["StatusDescription"] = f"scheduler error: {exc}"
                failed["ModifyTime"] = m.now_ns()
                self._put_eval(txn, failed)
            return
        self.apply_plan(ev, plan)
        self.evals_processed += 1
        self.allocs_placed += plan.placed
        self.eval_latencies_ns.append(time.perf_counter_ns() - started)
        if len(self.eval_latencies_ns) > 100_000:
            del self.eval_latencies_ns[:50_000]

    def apply_plan(self, ev: Obj, plan: Plan) -> None:
        new_evals = plan_apply.apply_plan(self, ev, plan)
        self._enqueue(new_evals)
        self._finish_drains()

    def plan_job(self, job: Obj) -> tuple[Obj, Plan]:
        """A dry run of registering `job`: the evaluation it would make and its plan."""
        namespace = job.get("Namespace") or m.DEFAULT_NAMESPACE
        existing = self.store.job(namespace, job["ID"])
        proposed = dict(job)
        proposed["Namespace"] = namespace
        if existing is not None and spec_of(existing) == spec_of(proposed):
            proposed["Version"] = existing["Version"]
        else:
            proposed["Version"] = int(existing["Version"]) + 1 if existing else 0
        ev = m.new_eval(proposed, m.TRIGGER_JOB_REGISTER, 0)
        ev["AnnotatePlan"] = True
        return ev, self.scheduler.plan(ev, m.now_ns(), job_override=proposed)

    def restore(self) -> None:
        """After a restart: every pending evaluation goes back to the broker."""
        pending = [e for e in self.store.tables[s.EVAL].values() if e["Status"] == m.EVAL_PENDING]
        pending.sort(key=lambda e: e["CreateIndex"])
        self._enqueue(pending)


def _legacy_resources(node: Obj) -> Obj:
    res = node.get("NodeResources") or {}
    return {
        "CPU": int((res.get("Cpu") or {}).get("CpuShares") or 0),
        "MemoryMB": int((res.get("Memory") or {}).get("MemoryMB") or 0),
        "DiskMB": int((res.get("Disk") or {}).get("DiskMB") or 0),
        "Networks": None,
    }

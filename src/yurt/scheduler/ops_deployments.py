"""Deployment operations: Nomad's deployment watcher (health counts, canary auto-promotion,
success, failure on unhealthy allocations or a missed progress deadline, auto-revert) and
the user's promote, pause/resume and fail."""

from __future__ import annotations

from dataclasses import dataclass

from yurt.scheduler import model as m
from yurt.scheduler import store as s
from yurt.scheduler.errors import InvalidRequest, SchedulerError
from yurt.scheduler.ops_base import json_copy
from yurt.scheduler.ops_jobs import JobOps
from yurt.scheduler.responses import DeploymentUpdateResponse
from yurt.scheduler.structs import Allocation, Deployment, Evaluation, Job


@dataclass
class DeploymentTally:
    """What a deployment's allocations say: whether it is done, why it failed ("" if it has
    not), and whether it moved on since the last look."""

    done: bool = True
    failure: str = ""
    needs_promotion: bool = False
    promoted_now: bool = False
    progressed: bool = False


def _healthy(alloc: Allocation) -> bool | None:
    return (alloc.get("DeploymentStatus") or {}).get("Healthy")


def _canary(alloc: Allocation) -> bool:
    return bool((alloc.get("DeploymentStatus") or {}).get("Canary"))


def tally_deployment(
    new: Deployment, allocs: list[Allocation], now: int, check_deadline: bool
) -> DeploymentTally:
    """Count `new`'s task groups' allocations into it (placed, healthy, unhealthy, canaries,
    the next progress deadline) and judge the deployment. Pure: `new` is a copy."""
    tally = DeploymentTally()
    for name, tg in new["TaskGroups"].items():
        mine = [a for a in allocs if a["TaskGroup"] == name]
        live = [a for a in mine if not m.alloc_is_terminal(a)]
        healthy = sum(1 for a in live if _healthy(a))
        if healthy > int(tg.get("HealthyAllocs") or 0):
            tally.progressed = True
            if tg.get("ProgressDeadline"):
                tg["RequireProgressBy"] = m.rfc3339(now + int(tg["ProgressDeadline"]))
        tg["PlacedAllocs"] = len(mine)
        tg["HealthyAllocs"] = healthy
        tg["UnhealthyAllocs"] = sum(1 for a in mine if _healthy(a) is False)
        tg["PlacedCanaries"] = [a["ID"] for a in mine if _canary(a)] or None
        if tg["UnhealthyAllocs"]:
            tally.failure = "Failed due to unhealthy allocations"
        if int(tg.get("DesiredCanaries") or 0) and not tg.get("Promoted"):
            tally.done = False
            healthy_canaries = sum(1 for a in live if _canary(a) and _healthy(a))
            if healthy_canaries >= int(tg["DesiredCanaries"]):
                if tg.get("AutoPromote"):
                    tg["Promoted"] = True
                    tally.promoted_now = True
                else:
                    tally.needs_promotion = True
        elif healthy < int(tg["DesiredTotal"]):
            tally.done = False
        deadline = m.parse_rfc3339_ns(tg.get("RequireProgressBy"))
        if check_deadline and not tally.done and deadline and deadline < now and not tally.failure:
            tally.failure = "Failed due to progress deadline"
    return tally


class DeploymentOps(JobOps):
    def _deployment_allocs(self, dep: Deployment, *, live_only: bool = False) -> list[Allocation]:
        return [
            a
            for a in self.store.allocs_for_job(dep["Namespace"], dep["JobID"])
            if a.get("DeploymentID") == dep["ID"] and not (live_only and m.alloc_is_terminal(a))
        ]

    def _job_of(self, dep: Deployment) -> Job | None:
        return self.store.job(dep["Namespace"], dep["JobID"])

    def _watch_deployment(self, dep_id: str, *, check_deadline: bool = False) -> None:
        """Nomad's deployment watcher: count healthy allocations, promote canaries when
        `auto_promote`, finish, fail (unhealthy allocation or progress deadline) and
        auto-revert, or let the rolling update go on."""
        dep = self.store.deployments.get(dep_id)
        if dep is None or dep["Status"] != m.DEPLOY_RUNNING:
            return
        new = json_copy(dep)
        tally = tally_deployment(new, self._deployment_allocs(dep), m.now_ns(), check_deadline)
        if check_deadline and not tally.failure:
            return
        job = self._job_of(dep)
        with self.store.write() as txn:
            evals, revert_to = self._settle(txn, dep, new, tally, job)
            new["ModifyIndex"] = txn.index
            new["ModifyTime"] = m.now_ns()
            txn.put(s.DEPLOYMENT, dep_id, new)
        self._enqueue(evals)
        if revert_to is not None:
            self.register_job(json_copy(revert_to))

    def _settle(
        self, txn: s.Txn, dep: Deployment, new: Deployment, tally: DeploymentTally, job: Job | None
    ) -> tuple[list[Evaluation], Job | None]:
        """Write the tally's verdict into `new`: failed (and the stable version to revert
        to), successful (its job version is stable now), or running (with an evaluation to
        go on when it progressed). Returns the evaluations made and the revert target."""
        if tally.failure:
            new["Status"] = m.DEPLOY_FAILED
            new["StatusDescription"] = tally.failure
            revert_to = self._auto_revert_target(dep, new, job)
            if revert_to is not None:
                new["StatusDescription"] += f" - rolling back to job version {revert_to['Version']}"
            return [], revert_to
        if tally.done:
            new["Status"] = m.DEPLOY_SUCCESSFUL
            new["StatusDescription"] = "Deployment completed successfully"
            self._mark_stable(txn, dep, job)
            return [], None
        new["StatusDescription"] = (
            "Deployment is running but requires manual promotion"
            if tally.needs_promotion
            else "Deployment is running"
        )
        if job is None or not (tally.progressed or tally.promoted_now):
            return [], None
        # More healthy allocations: let the rolling update go on.
        return [self._watcher_eval(txn, dep, job)], None

    def _auto_revert_target(self, dep: Deployment, new: Deployment, job: Job | None) -> Job | None:
        """The latest stable version other than the deployment's, when a group auto-reverts."""
        if not job or not any(tg.get("AutoRevert") for tg in new["TaskGroups"].values()):
            return None
        stable = [
            v
            for v in self.store.job_versions(dep["Namespace"], dep["JobID"])
            if v.get("Stable") and int(v["Version"]) != int(dep["JobVersion"])
        ]
        return stable[0] if stable else None

    def _mark_stable(self, txn: s.Txn, dep: Deployment, job: Job | None) -> None:
        ver = self.store.job_version(dep["Namespace"], dep["JobID"], dep["JobVersion"])
        if ver is None:
            return
        ver = ver.copy()
        ver["Stable"] = True
        txn.put(
            s.JOB_VERSION,
            s.version_key(dep["Namespace"], dep["JobID"], int(dep["JobVersion"])),
            ver,
        )
        if job is not None and int(job["Version"]) == int(dep["JobVersion"]):
            cur = job.copy()
            cur["Stable"] = True
            cur["ModifyIndex"] = txn.index
            txn.put(s.JOB, s.job_key(dep["Namespace"], dep["JobID"]), cur)

    def _deployment_job(self, dep: Deployment) -> Job:
        """The deployment's job; for a purged one, what an evaluation needs of it."""
        return self._job_of(dep) or {"ID": dep["JobID"], "Namespace": dep["Namespace"]}

    def _watcher_eval(self, txn: s.Txn, dep: Deployment, job: Job) -> Evaluation:
        """Store (in `txn`) the evaluation the deployment watcher makes to go on with `dep`."""
        ev = m.new_eval(job, m.TRIGGER_DEPLOYMENT_WATCHER, txn.index, deployment_id=dep["ID"])
        return self._put_eval(txn, ev)

    def check_deployment_deadlines(self) -> None:
        now = m.now_ns()
        for dep in list(self.store.deployments.values()):
            if dep["Status"] != m.DEPLOY_RUNNING:
                continue
            deadlines = [
                m.parse_rfc3339_ns(tg.get("RequireProgressBy"))
                for tg in (dep.get("TaskGroups") or {}).values()
            ]
            if any(d and d < now for d in deadlines):
                self._watch_deployment(dep["ID"], check_deadline=True)

    def promote_deployment(
        self, dep: Deployment, groups: list[str] | None
    ) -> DeploymentUpdateResponse:
        if dep["Status"] not in (m.DEPLOY_RUNNING, m.DEPLOY_PAUSED):
            # Nomad's RPC error text, answered 500 as Nomad's HTTP layer does.
            raise SchedulerError("can't promote terminal deployment")
        if dep["Status"] == m.DEPLOY_PAUSED:
            raise InvalidRequest("can't promote a paused deployment: resume it first")
        new = json_copy(dep)
        allocs = self._deployment_allocs(dep, live_only=True)
        targets = [
            name
            for name, tg in new["TaskGroups"].items()
            if int(tg.get("DesiredCanaries") or 0) and (groups is None or name in groups)
        ]
        if not targets:
            raise InvalidRequest("no canaries to promote")
        for name in targets:
            tg = new["TaskGroups"][name]
            healthy = sum(
                1 for a in allocs if a["TaskGroup"] == name and _canary(a) and _healthy(a)
            )
            if healthy < int(tg["DesiredCanaries"]):
                raise InvalidRequest(
                    f'Task group "{name}" has {healthy}/{tg["DesiredCanaries"]} healthy allocations'
                )
            tg["Promoted"] = True
        job = self._deployment_job(dep)
        with self.store.write() as txn:
            new["StatusDescription"] = "Deployment is running"
            new["ModifyIndex"] = txn.index
            txn.put(s.DEPLOYMENT, dep["ID"], new)
            ev = self._watcher_eval(txn, dep, job)
        self._enqueue([ev])
        # The promoted canaries may already be all the group wants (count = canary): then
        # no allocation of this deployment changes again, and it is done now.
        self._watch_deployment(dep["ID"])
        return update_response(txn.index, ev)

    def pause_deployment(self, dep: Deployment, pause: bool) -> DeploymentUpdateResponse:
        if dep["Status"] not in (m.DEPLOY_RUNNING, m.DEPLOY_PAUSED):
            raise SchedulerError(f"can't {'pause' if pause else 'resume'} terminal deployment")
        status = m.DEPLOY_PAUSED if pause else m.DEPLOY_RUNNING
        desc = "Deployment is paused" if pause else "Deployment is running"
        job = self._job_of(dep)
        with self.store.write() as txn:
            _put_status(txn, dep, status, desc)
            evals = []
            if not pause and job is not None:
                evals.append(self._watcher_eval(txn, dep, job))
        self._enqueue(evals)
        if not pause:
            # Health reported while paused counts now (and may auto-promote).
            self._watch_deployment(dep["ID"])
        return update_response(txn.index, evals[0] if evals else None)

    def fail_deployment(self, dep: Deployment) -> DeploymentUpdateResponse:
        """`nomad deployment fail`: a running deployment only."""
        if dep["Status"] != m.DEPLOY_RUNNING:
            raise SchedulerError("can't fail terminal deployment")
        return self.set_deployment_status(dep, m.DEPLOY_FAILED, "Deployment marked as failed")

    def set_alloc_health(
        self, dep: Deployment, healthy: list[str], unhealthy: list[str]
    ) -> DeploymentUpdateResponse:
        """Nomad's manual health (`health_check = "manual"`): mark allocations of the
        deployment healthy or unhealthy (unhealthy wins for an ID in both), then let the
        deployment watcher judge it; Nomad's texts (its RPC errors, answered 500)."""
        if not healthy and not unhealthy:
            raise SchedulerError("must specify at least one healthy/unhealthy allocation ID")
        if dep["Status"] not in (m.DEPLOY_RUNNING, m.DEPLOY_PAUSED):
            raise SchedulerError("can't set health of allocations for a terminal deployment")
        marks = {**dict.fromkeys(healthy, True), **dict.fromkeys(unhealthy, False)}
        allocs = self.store.allocs
        for alloc_id in marks:
            if len(alloc_id) != 36:
                raise SchedulerError(
                    f'alloc "{alloc_id}" lookup failed: index error: UUID must be 36 characters'
                )
            alloc = allocs.get(alloc_id)
            if alloc is None:
                raise SchedulerError(f'unknown alloc "{alloc_id}"')
            if alloc.get("DeploymentID") != dep["ID"]:
                raise SchedulerError(f'alloc "{alloc_id}" is not part of deployment')
        job = self._deployment_job(dep)
        with self.store.write() as txn:
            txn.event_type = "DeploymentAllocHealth"
            for alloc_id, ok in marks.items():
                alloc = allocs[alloc_id].copy()
                alloc["DeploymentStatus"] = {
                    **(alloc.get("DeploymentStatus") or {}),
                    "Healthy": ok,
                    "Timestamp": m.rfc3339(),
                    "ModifyIndex": txn.index,
                }
                alloc["ModifyIndex"] = txn.index
                txn.put(s.ALLOC, alloc_id, alloc)
            ev = self._watcher_eval(txn, dep, job)
        self._enqueue([ev])
        self._watch_deployment(dep["ID"])
        return update_response(txn.index, ev)

    def set_deployment_status(
        self, dep: Deployment, status: str, desc: str
    ) -> DeploymentUpdateResponse:
        with self.store.write() as txn:
            _put_status(txn, dep, status, desc)
        return update_response(txn.index, None)


def _put_status(txn: s.Txn, dep: Deployment, status: str, desc: str) -> None:
    new = dep.copy()
    new["Status"] = status
    new["StatusDescription"] = desc
    new["ModifyIndex"] = txn.index
    txn.put(s.DEPLOYMENT, dep["ID"], new)


def update_response(index: int, ev: Evaluation | None) -> DeploymentUpdateResponse:
    """structs.DeploymentUpdateResponse, every field always present as Go marshals it (an
    auto-revert's `RevertedJobVersion` is reported by the job's register, never here)."""
    return {
        "EvalID": ev["ID"] if ev else "",
        "EvalCreateIndex": ev["CreateIndex"] if ev else 0,
        "DeploymentModifyIndex": index,
        "RevertedJobVersion": None,
        "Index": index,
    }

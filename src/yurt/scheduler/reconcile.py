"""The schedulers: turn one evaluation into a plan (allocations to place, stop, update).

`service` and `batch` keep `Count` instances of each task group; `system` and `sysbatch`
keep one on every feasible node. Every run reconciles the wanted state with what exists,
so running the same evaluation twice (after a crash) plans nothing new.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from yurt.scheduler import model as m
from yurt.scheduler.placement import Placement, Placer, tg_networks
from yurt.scheduler.store import Store

Obj = dict[str, Any]

DESC_NOT_NEEDED = "alloc not needed due to job update"
DESC_UPDATING = "alloc is being updated due to job update"
DESC_LOST = "alloc is lost since its node is down"
DESC_MIGRATING = "alloc is being migrated"
DESC_NODE_INFEASIBLE = "node is not eligible or feasible for the job"
DESC_RESCHEDULED = "alloc was rescheduled because it failed"


@dataclass
class Plan:
    """What an evaluation decided; applied in one transaction."""

    allocs: dict[str, Obj] = field(default_factory=dict)
    new_evals: list[Obj] = field(default_factory=list)
    deployments: dict[str, Obj] = field(default_factory=dict)
    failed_tg: dict[str, Obj] = field(default_factory=dict)
    queued: dict[str, int] = field(default_factory=dict)
    placed: int = 0
    # Nomad's DesiredTGUpdates, for `nomad job plan` annotations.
    desired: dict[str, dict[str, int]] = field(default_factory=dict)

    def note(self, tg: str, what: str, n: int = 1) -> None:
        counts = self.desired.setdefault(tg, dict.fromkeys(_DESIRED_KINDS, 0))
        counts[what] += n

    def upsert(self, alloc: Obj) -> None:
        self.allocs[alloc["ID"]] = alloc


_DESIRED_KINDS = (
    "Ignore",
    "Place",
    "Migrate",
    "Stop",
    "InPlaceUpdate",
    "DestructiveUpdate",
    "Canary",
    "Preemptions",
)

_NAME_INDEX = re.compile(r"\[(\d+)\]$")


def alloc_index(alloc: Obj) -> int:
    mt = _NAME_INDEX.search(alloc.get("Name", ""))
    return int(mt.group(1)) if mt else 0


def alloc_name(job_id: str, tg: str, index: int) -> str:
    return f"{job_id}.{tg}[{index}]"


class Scheduler:
    def __init__(self, store: Store, *, algorithm: str = "binpack") -> None:
        self.store = store
        self.algorithm = algorithm

    def plan(self, ev: Obj, now_ns: int, *, job_override: Obj | None = None) -> Plan:
        job = job_override or self.store.job(ev["Namespace"], ev["JobID"])
        nodes = list(self.store.tables["node"].values())
        placer = Placer(nodes, self.store.usage, algorithm=self.algorithm)
        run = _Run(self.store, ev, job, placer, now_ns)
        if job is not None and job.get("Type") in ("system", "sysbatch"):
            run.system()
        else:
            run.generic()
        return run.plan


class _Run:
    def __init__(self, store: Store, ev: Obj, job: Obj | None, placer: Placer, now: int) -> None:
        self.store = store
        self.ev = ev
        self.job = job
        self.placer = placer
        self.now = now
        self.plan = Plan()
        # Keyed by ID already; read only here (the store replaces nodes, never edits them).
        self.nodes: dict[str, Obj] = store.tables["node"]
        self.allocs = [dict(a) for a in store.allocs_for_job(ev["Namespace"], ev["JobID"])]
        self.stopped = job is None or bool(job.get("Stop"))
        self.deployment: Obj | None = None

    # shared steps ----------------------------------------------------------------------

    def _stop(self, alloc: Obj, desc: str, *, client_status: str | None = None) -> None:
        held = m.alloc_uses_resources(alloc)
        if held:
            self.placer.usage_of(alloc["NodeID"])
        alloc["DesiredStatus"] = m.ALLOC_DESIRED_STOP
        alloc["DesiredDescription"] = desc
        kind = {DESC_MIGRATING: "Migrate", DESC_UPDATING: "DestructiveUpdate"}.get(desc, "Stop")
        if desc != DESC_LOST:
            self.plan.note(alloc["TaskGroup"], kind)
        if client_status is not None:
            alloc["ClientStatus"] = client_status
            alloc["ClientDescription"] = desc
        self.plan.upsert(alloc)
        if held:
            self.placer.release(alloc["NodeID"], alloc)

    def _handle_nodes(self, live: list[Obj]) -> tuple[list[Obj], list[Obj]]:
        """Split live allocations into those that stay and those to replace (lost,
        migrating); the latter are stopped here."""
        keep, replace = [], []
        for alloc in live:
            node = self.nodes.get(alloc["NodeID"])
            if node is None or node.get("Status") == m.NODE_DOWN:
                self._stop(alloc, DESC_LOST, client_status=m.ALLOC_LOST)
                replace.append(alloc)
            elif (alloc.get("DesiredTransition") or {}).get("Migrate") or (
                node.get("DrainStrategy") is not None
            ):
                self._stop(alloc, DESC_MIGRATING)
                replace.append(alloc)
            else:
                keep.append(alloc)
        return keep, replace

    def _new_alloc(
        self,
        job: Obj,
        tg: Obj,
        name: str,
        placement: Placement,
        *,
        previous: Obj | None = None,
        reschedule: bool = False,
        canary: bool = False,
    ) -> Obj:
        now = m.now_ns()
        node = placement.node
        tasks_alloc: Obj = {}
        task_resources: Obj = {}
        total_cpu = total_mem = total_disk = 0
        for task in tg.get("Tasks") or []:
            res = task.get("Resources") or {}
            cpu = int(res.get("CPU") or 0)
            mem = int(res.get("MemoryMB") or 0)
            mem_max = int(res.get("MemoryMaxMB") or 0)
            total_cpu += cpu
            total_mem += mem
            tasks_alloc[task["Name"]] = {
                "Cpu": {"CpuShares": cpu, "ReservedCores": None},
                "Memory": {"MemoryMB": mem, "MemoryMaxMB": mem_max},
                "Networks": None,
                "Devices": None,
            }
            task_resources[task["Name"]] = {
                "CPU": cpu,
                "Cores": int(res.get("Cores") or 0),
                "MemoryMB": mem,
                "MemoryMaxMB": mem_max,
                "DiskMB": 0,
                "IOPS": 0,
                "Networks": None,
                "Devices": None,
            }
        disk = int((tg.get("EphemeralDisk") or {}).get("SizeMB") or 0)
        total_disk += disk
        tracker = None
        if previous is not None and reschedule:
            events = list(((previous.get("RescheduleTracker") or {}).get("Events")) or [])
            events.append(
                {
                    "RescheduleTime": now,
                    "PrevAllocID": previous["ID"],
                    "PrevNodeID": previous["NodeID"],
                    "Delay": _reschedule_delay(tg, previous),
                }
            )
            tracker = {"Events": events}
        alloc = {
            "ID": m.new_id(),
            "Namespace": job.get("Namespace") or m.DEFAULT_NAMESPACE,
            "EvalID": self.ev["ID"],
            "Name": name,
            "NodeID": node["ID"],
            "NodeName": node.get("Name", ""),
            "JobID": job["ID"],
            "JobType": job.get("Type", "service"),
            "JobVersion": int(job.get("Version") or 0),
            "Job": None,
            "TaskGroup": tg["Name"],
            "Resources": {
                "CPU": total_cpu,
                "Cores": 0,
                "MemoryMB": total_mem,
                "MemoryMaxMB": 0,
                "DiskMB": total_disk,
                "IOPS": 0,
                "Networks": placement.networks or None,
                "Devices": None,
            },
            "SharedResources": {
                "CPU": 0,
                "MemoryMB": 0,
                "DiskMB": disk,
                "Networks": placement.networks or None,
            },
            "TaskResources": task_resources,
            "AllocatedResources": {
                "Tasks": tasks_alloc,
                "TaskLifecycles": {t["Name"]: t.get("Lifecycle") for t in tg.get("Tasks") or []},
                "Shared": {
                    "Networks": placement.networks or None,
                    "DiskMB": disk,
                    "Ports": placement.ports or None,
                },
            },
            "Metrics": placement.metrics,
            "DesiredStatus": m.ALLOC_DESIRED_RUN,
            "DesiredDescription": "",
            "DesiredTransition": {"Migrate": None, "Reschedule": None, "ForceReschedule": None},
            "ClientStatus": m.ALLOC_PENDING,
            "ClientDescription": "",
            "TaskStates": None,
            "DeploymentID": self.deployment["ID"] if self.deployment else "",
            "DeploymentStatus": (
                {"Healthy": None, "Timestamp": m.rfc3339(now), "Canary": True, "ModifyIndex": 0}
                if canary
                else None
            ),
            "FollowupEvalID": "",
            "RescheduleTracker": tracker,
            "NetworkStatus": None,
            "PreviousAllocation": previous["ID"] if previous else "",
            "NextAllocation": "",
            "PreemptedAllocations": None,
            "PreemptedByAllocation": "",
            "CreateIndex": 0,
            "ModifyIndex": 0,
            "AllocModifyIndex": 0,
            "CreateTime": now,
            "ModifyTime": now,
        }
        self.placer.commit(node["ID"], alloc)
        if canary:
            self.plan.note(tg["Name"], "Canary")
        elif previous is None or previous.get("DesiredDescription") == DESC_LOST or reschedule:
            self.plan.note(tg["Name"], "Place")
        if previous is not None:
            previous["NextAllocation"] = alloc["ID"]
            self.plan.upsert(previous)
        self.plan.upsert(alloc)
        self.plan.placed += 1
        return alloc

    def _fail(self, tg: Obj, metrics: Obj, missing: int) -> None:
        prior = self.plan.failed_tg.get(tg["Name"])
        if prior is not None:
            prior["CoalescedFailures"] += missing
            return
        metrics["CoalescedFailures"] = missing - 1
        self.plan.failed_tg[tg["Name"]] = metrics
        self.plan.queued[tg["Name"]] = self.plan.queued.get(tg["Name"], 0) + missing

    # service and batch -----------------------------------------------------------------

    def generic(self) -> None:
        job = self.job
        tgs = {tg["Name"]: tg for tg in (job or {}).get("TaskGroups") or []}
        batch = job is not None and job.get("Type") == "batch"
        live = [a for a in self.allocs if not m.alloc_is_terminal(a)]
        if self.stopped or job is None:
            for alloc in live:
                self._stop(alloc, DESC_NOT_NEEDED)
            self._cancel_deployments("Cancelled because job is stopped")
            return
        for alloc in live:
            if alloc["TaskGroup"] not in tgs:
                self._stop(alloc, DESC_NOT_NEEDED)
        live = [a for a in live if a["TaskGroup"] in tgs]
        keep, replace = self._handle_nodes(live)
        self._ensure_deployment(job, keep)
        for name, tg in tgs.items():
            self.plan.queued.setdefault(name, 0)
            self._reconcile_group(
                job,
                tg,
                [a for a in keep if a["TaskGroup"] == name],
                [a for a in replace if a["TaskGroup"] == name],
                batch,
            )

    def _reconcile_group(
        self, job: Obj, tg: Obj, live: list[Obj], replace: list[Obj], batch: bool
    ) -> None:
        raw_count = tg.get("Count")
        count = int(raw_count) if raw_count is not None else 1
        all_tg = [a for a in self.allocs if a["TaskGroup"] == tg["Name"]]
        # Batch work that finished successfully is done; it is not run again.
        done = (
            [a for a in all_tg if a.get("ClientStatus") == m.ALLOC_COMPLETE and a not in live]
            if batch
            else []
        )
        # Failed allocations that may be rescheduled now, later, or never.
        reschedule_now: list[Obj] = []
        for alloc in all_tg:
            if alloc.get("ClientStatus") != m.ALLOC_FAILED or alloc.get("NextAllocation"):
                continue
            if alloc.get("DesiredStatus") != m.ALLOC_DESIRED_RUN:
                continue
            decision = self._reschedule_decision(tg, alloc)
            if decision == "now":
                reschedule_now.append(alloc)
            elif decision == "never" and batch:
                done.append(alloc)
        # Canaries: extra allocations of the new version beside the old ones until the
        # deployment is promoted; then each takes the place of an old allocation.
        version = int(job.get("Version") or 0)
        dep_state = ((self.deployment or {}).get("TaskGroups") or {}).get(tg["Name"]) or {}
        want_canaries = int(dep_state.get("DesiredCanaries") or 0)
        canary_phase = want_canaries > 0 and not dep_state.get("Promoted")
        canaries = [
            a
            for a in live
            if self.deployment
            and a.get("DeploymentID") == self.deployment["ID"]
            and (a.get("DeploymentStatus") or {}).get("Canary")
        ]
        if canary_phase:
            live = [a for a in live if a not in canaries]
        elif canaries:
            took_over = {a.get("NextAllocation") for a in all_tg}
            for canary in canaries:
                if canary["ID"] in took_over:
                    continue
                old_ones = [
                    a for a in live if a not in canaries and int(a.get("JobVersion", 0)) != version
                ]
                victim = next((a for a in old_ones if a["Name"] == canary["Name"]), None) or (
                    old_ones[0] if old_ones else None
                )
                if victim is not None:
                    self._stop(victim, DESC_UPDATING)
                    victim["NextAllocation"] = canary["ID"]
                    live.remove(victim)
        # Scale down: stop the highest-indexed instances beyond Count.
        live.sort(key=alloc_index)
        satisfied = len(live) + len(done)
        while satisfied > count and live:
            victim = live.pop()
            self._stop(victim, DESC_NOT_NEEDED)
            satisfied -= 1
        # Updates to a new job version: in place, or stop and replace (rolling).
        stale = [a for a in live if int(a.get("JobVersion", 0)) != int(job.get("Version") or 0)]
        destructive_budget = self._destructive_budget(job, tg)
        needs_canary: list[Obj] = []
        for alloc in stale:
            old = self.store.job_version(alloc["Namespace"], alloc["JobID"], alloc["JobVersion"])
            old_tg = _find_tg(old, tg["Name"]) if old else None
            if old_tg is not None and not _destructive(old or {}, old_tg, job, tg):
                alloc["JobVersion"] = int(job.get("Version") or 0)
                alloc["EvalID"] = self.ev["ID"]
                if self.deployment:
                    alloc["DeploymentID"] = self.deployment["ID"]
                self.plan.upsert(alloc)
                self.plan.note(tg["Name"], "InPlaceUpdate")
                continue
            if canary_phase:
                needs_canary.append(alloc)
                self.plan.note(tg["Name"], "Ignore")
                continue
            if destructive_budget is not None:
                if destructive_budget <= 0:
                    self.plan.note(tg["Name"], "Ignore")
                    continue
                destructive_budget -= 1
            self._stop(alloc, DESC_UPDATING)
            live.remove(alloc)
            placement, metrics = self.placer.place(job, tg)
            if placement is None:
                self._fail(tg, metrics, 1)
                continue
            live.append(self._new_alloc(job, tg, alloc["Name"], placement, previous=alloc))
        if needs_canary and len(canaries) < want_canaries:
            needs_canary.sort(key=alloc_index)
            for alloc in needs_canary[: want_canaries - len(canaries)]:
                placement, metrics = self.placer.place(job, tg)
                if placement is None:
                    self._fail(tg, metrics, 1)
                    continue
                self._new_alloc(job, tg, alloc["Name"], placement, canary=True)
        # Replace lost and migrating allocations (also those an earlier evaluation could not
        # replace for want of room), and reschedule failed ones.
        seen = {id(a) for a in replace}
        for alloc in all_tg:
            if id(alloc) in seen or alloc.get("NextAllocation") or alloc in live:
                continue
            if alloc.get("ClientStatus") == m.ALLOC_LOST or (
                alloc.get("DesiredDescription") == DESC_MIGRATING
            ):
                replace.append(alloc)
        for alloc in replace:
            if len(live) + len(done) >= count:
                break
            placement, metrics = self.placer.place(job, tg)
            if placement is None:
                self._fail(tg, metrics, 1)
                continue
            live.append(self._new_alloc(job, tg, alloc["Name"], placement, previous=alloc))
        for alloc in reschedule_now:
            if len(live) + len(done) >= count:
                break
            placement, metrics = self.placer.place(job, tg, penalty_nodes={alloc["NodeID"]})
            if placement is None:
                self._fail(tg, metrics, 1)
                continue
            live.append(
                self._new_alloc(job, tg, alloc["Name"], placement, previous=alloc, reschedule=True)
            )
        # Scale up / first placement, reusing the lowest free name indexes.
        pending_failed = [
            a
            for a in all_tg
            if a.get("ClientStatus") == m.ALLOC_FAILED
            and not a.get("NextAllocation")
            and a.get("DesiredStatus") == m.ALLOC_DESIRED_RUN
            and a not in done
        ]
        missing = count - len(live) - len(done) - len(pending_failed)
        untouched = sum(1 for a in live if a["ID"] not in self.plan.allocs)
        if untouched:
            self.plan.note(tg["Name"], "Ignore", untouched)
        self.plan.desired.setdefault(tg["Name"], dict.fromkeys(_DESIRED_KINDS, 0))
        if missing <= 0:
            return
        used = {alloc_index(a) for a in live + done + pending_failed}
        idx = 0
        for _ in range(missing):
            while idx in used:
                idx += 1
            used.add(idx)
            placement, metrics = self.placer.place(job, tg)
            if placement is None:
                remaining = missing - sum(1 for a in live if a["ID"] in self.plan.allocs)
                self._fail(tg, metrics, max(remaining, 1))
                break
            live.append(self._new_alloc(job, tg, alloc_name(job["ID"], tg["Name"], idx), placement))

    def _reschedule_decision(self, tg: Obj, alloc: Obj) -> str:
        if (alloc.get("DesiredTransition") or {}).get("ForceReschedule"):
            return "now"
        policy = tg.get("ReschedulePolicy")
        if not policy:
            return "never"
        events = ((alloc.get("RescheduleTracker") or {}).get("Events")) or []
        if not policy.get("Unlimited"):
            interval = int(policy.get("Interval") or 0)
            recent = [
                e for e in events if interval == 0 or e["RescheduleTime"] > self.now - interval
            ]
            if len(recent) >= int(policy.get("Attempts") or 0):
                return "never"
        fail_time = _fail_time(alloc)
        when = fail_time + _reschedule_delay(tg, alloc)
        if when <= self.now:
            return "now"
        if not alloc.get("FollowupEvalID") or self.ev["ID"] == alloc.get("FollowupEvalID"):
            if self.ev["ID"] == alloc.get("FollowupEvalID"):
                return "now"
            assert self.job is not None
            follow = m.new_eval(
                self.job,
                m.TRIGGER_RETRY_FAILED_ALLOC,
                0,
                previous_eval=self.ev["ID"],
                wait_until_ns=when,
            )
            self.plan.new_evals.append(follow)
            alloc["FollowupEvalID"] = follow["ID"]
            self.plan.upsert(alloc)
        return "later"

    def _destructive_budget(self, job: Obj, tg: Obj) -> int | None:
        update = tg.get("Update") or job.get("Update") or {}
        max_parallel = int(update.get("MaxParallel") or 0)
        if job.get("Type") != "service" or max_parallel <= 0 or self.deployment is None:
            return None
        if self.deployment.get("Status") == m.DEPLOY_PAUSED:
            return 0
        version = int(job.get("Version") or 0)
        in_flight = 0
        for alloc in self.allocs:
            if alloc["TaskGroup"] != tg["Name"] or m.alloc_is_terminal(alloc):
                continue
            if int(alloc.get("JobVersion", 0)) != version or alloc.get("ID") in self.plan.allocs:
                continue
            if alloc.get("DeploymentID") != self.deployment["ID"]:
                continue
            if not (alloc.get("DeploymentStatus") or {}).get("Healthy"):
                in_flight += 1
        return max_parallel - in_flight

    def _ensure_deployment(self, job: Obj, live: list[Obj]) -> None:
        """A service job whose groups have an update block is rolled out by a deployment."""
        if job.get("Type") != "service":
            return
        groups = {
            tg["Name"]: tg
            for tg in job.get("TaskGroups") or []
            if int(((tg.get("Update") or job.get("Update") or {}).get("MaxParallel")) or 0) > 0
        }
        if not groups:
            return
        version = int(job.get("Version") or 0)
        existing = [
            d for d in self.store.deployments_for_job(job.get("Namespace", "default"), job["ID"])
        ]
        for d in existing:
            if (
                d["Status"] in (m.DEPLOY_RUNNING, m.DEPLOY_PAUSED)
                and int(d["JobVersion"]) != version
            ):
                d = dict(d)
                d["Status"] = m.DEPLOY_CANCELLED
                d["StatusDescription"] = "Cancelled due to newer version of job"
                self.plan.deployments[d["ID"]] = d
        current = [d for d in existing if int(d["JobVersion"]) == version]
        if current:
            latest = max(current, key=lambda d: d["CreateIndex"])
            if latest["Status"] in (m.DEPLOY_RUNNING, m.DEPLOY_PAUSED):
                self.deployment = json.loads(json.dumps(latest))
            return
        # Nothing to roll out when every live allocation already runs this version and the
        # job was placed before (a plain re-evaluation).
        if live and all(int(a.get("JobVersion", 0)) == version for a in live):
            return
        now = m.now_ns()
        tgs: Obj = {}
        for name, tg in groups.items():
            update = tg.get("Update") or job.get("Update") or {}
            deadline = int(update.get("ProgressDeadline") or 0)
            tgs[name] = {
                "AutoRevert": bool(update.get("AutoRevert")),
                "AutoPromote": bool(update.get("AutoPromote")),
                "ProgressDeadline": deadline,
                "RequireProgressBy": m.rfc3339(now + deadline) if deadline else None,
                "Promoted": False,
                "PlacedCanaries": None,
                # Canaries test an update; a group's first placement needs none.
                "DesiredCanaries": int(update.get("Canary") or 0)
                if any(a["TaskGroup"] == name for a in live)
                else 0,
                "DesiredTotal": int(tg.get("Count") if tg.get("Count") is not None else 1),
                "PlacedAllocs": 0,
                "HealthyAllocs": 0,
                "UnhealthyAllocs": 0,
            }
        self.deployment = {
            "ID": m.new_id(),
            "Namespace": job.get("Namespace") or m.DEFAULT_NAMESPACE,
            "JobID": job["ID"],
            "JobVersion": version,
            "JobModifyIndex": job.get("JobModifyIndex", 0),
            "JobSpecModifyIndex": job.get("JobModifyIndex", 0),
            "JobCreateIndex": job.get("CreateIndex", 0),
            "IsMultiregion": False,
            "TaskGroups": tgs,
            "Status": m.DEPLOY_RUNNING,
            "StatusDescription": "Deployment is running",
            "EvalPriority": int(job.get("Priority") or 50),
            "CreateIndex": 0,
            "ModifyIndex": 0,
            "CreateTime": now,
            "ModifyTime": now,
        }
        self.plan.deployments[self.deployment["ID"]] = self.deployment

    def _cancel_deployments(self, why: str) -> None:
        for d in self.store.deployments_for_job(self.ev["Namespace"], self.ev["JobID"]):
            if d["Status"] in (m.DEPLOY_RUNNING, m.DEPLOY_PAUSED):
                d = dict(d)
                d["Status"] = m.DEPLOY_CANCELLED
                d["StatusDescription"] = why
                self.plan.deployments[d["ID"]] = d

    # system and sysbatch ---------------------------------------------------------------

    def system(self) -> None:
        job = self.job
        assert job is not None
        sysbatch = job.get("Type") == "sysbatch"
        live = [a for a in self.allocs if not m.alloc_is_terminal(a)]
        if self.stopped:
            for alloc in live:
                self._stop(alloc, DESC_NOT_NEEDED)
            return
        tgs = {tg["Name"]: tg for tg in job.get("TaskGroups") or []}
        for alloc in live:
            if alloc["TaskGroup"] not in tgs:
                self._stop(alloc, DESC_NOT_NEEDED)
        live = [a for a in live if a["TaskGroup"] in tgs]
        keep, _replaced = self._handle_nodes(live)
        ready = {n["ID"]: n for n in self.placer.ready_nodes(job)}
        version = int(job.get("Version") or 0)
        for name, tg in tgs.items():
            self.plan.queued.setdefault(name, 0)
            on_node: dict[str, Obj] = {}
            for alloc in keep:
                if alloc["TaskGroup"] != name:
                    continue
                if alloc["NodeID"] not in ready:
                    self._stop(alloc, DESC_NODE_INFEASIBLE)
                    continue
                on_node[alloc["NodeID"]] = alloc
            finished = {
                a["NodeID"]
                for a in self.allocs
                if a["TaskGroup"] == name
                and a.get("ClientStatus") == m.ALLOC_COMPLETE
                and int(a.get("JobVersion", 0)) == version
            }
            for node_id, node in ready.items():
                existing = on_node.get(node_id)
                if existing is not None:
                    if int(existing.get("JobVersion", 0)) == version:
                        continue
                    old = self.store.job_version(
                        existing["Namespace"], existing["JobID"], existing["JobVersion"]
                    )
                    old_tg = _find_tg(old, name) if old else None
                    if old_tg is not None and not _destructive(old or {}, old_tg, job, tg):
                        existing["JobVersion"] = version
                        self.plan.upsert(existing)
                        continue
                    self._stop(existing, DESC_UPDATING)
                elif sysbatch and node_id in finished:
                    continue
                placement, metrics = self.placer.place(job, tg, only_node=node)
                if placement is None:
                    # A system job that does not fit a node is reported, not queued forever.
                    self._fail(tg, metrics, 1)
                    self.plan.queued[name] = 0
                    continue
                self._new_alloc(
                    job,
                    tg,
                    alloc_name(job["ID"], name, 0),
                    placement,
                    previous=existing,
                )


def _find_tg(job: Obj | None, name: str) -> Obj | None:
    for tg in (job or {}).get("TaskGroups") or []:
        if tg.get("Name") == name:
            return dict(tg)
    return None


def _strip_services(task: Obj) -> Obj:
    return {k: v for k, v in task.items() if k not in ("Services",)}


def _destructive(old_job: Obj, old_tg: Obj, new_job: Obj, new_tg: Obj) -> bool:
    """Nomad's tasksUpdated: what a running allocation cannot take without a restart."""

    def canon(value: Any) -> str:
        return json.dumps(value, sort_keys=True)

    if canon(tg_networks(old_tg)) != canon(tg_networks(new_tg)):
        return True
    for key in ("EphemeralDisk", "Volumes", "Meta"):
        if canon(old_tg.get(key)) != canon(new_tg.get(key)):
            return True
    if canon(old_job.get("Meta")) != canon(new_job.get("Meta")):
        return True
    old_tasks = {t["Name"]: _strip_services(t) for t in old_tg.get("Tasks") or []}
    new_tasks = {t["Name"]: _strip_services(t) for t in new_tg.get("Tasks") or []}
    return canon(old_tasks) != canon(new_tasks)


def _fail_time(alloc: Obj) -> int:
    latest = 0
    for state in (alloc.get("TaskStates") or {}).values():
        latest = max(latest, m.parse_rfc3339_ns(state.get("FinishedAt")))
    return latest or int(alloc.get("ModifyTime") or 0)


def _reschedule_delay(tg: Obj, alloc: Obj) -> int:
    policy = tg.get("ReschedulePolicy") or {}
    base = int(policy.get("Delay") or 0)
    fn = policy.get("DelayFunction") or "constant"
    max_delay = int(policy.get("MaxDelay") or 0)
    n = len(((alloc.get("RescheduleTracker") or {}).get("Events")) or [])
    if fn == "exponential":
        delay = base * (2**n)
    elif fn == "fibonacci":
        a, b = base, base
        for _ in range(n):
            a, b = b, a + b
        delay = int(a)
    else:
        delay = base
    if max_delay and delay > max_delay:
        delay = max_delay
    return int(delay)

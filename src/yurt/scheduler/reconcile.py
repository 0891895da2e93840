"""The schedulers: turn one evaluation into a plan (allocations to place, stop, update).

`service` and `batch` keep `Count` instances of each task group; `system` and `sysbatch`
keep one on every feasible node. Every run reconciles the wanted state with what exists,
so running the same evaluation twice (after a crash) plans nothing new.

A decision is made on a `ClusterState`, a snapshot read from the store once before it starts
(as Nomad's reconciler works on its state snapshot): `decide` itself reads no store, so it
is tested by tables of states and plans (tests/scheduler/test_reconcile_table.py).
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from yurt.scheduler import alloc_pack
from yurt.scheduler import model as m
from yurt.scheduler.placement import Placement, Placer, tg_networks
from yurt.scheduler.structs import (
    Allocation,
    AllocMetric,
    Deployment,
    DeploymentState,
    Evaluation,
    Job,
    Node,
    ReschedulePolicy,
    RescheduleTracker,
    TaskGroup,
)
from yurt.scheduler.usage import NodeUsage

if TYPE_CHECKING:
    from yurt.scheduler.store import Store

DESC_NOT_NEEDED = "alloc not needed due to job update"
DESC_UPDATING = "alloc is being updated due to job update"
DESC_LOST = "alloc is lost since its node is down"
DESC_MIGRATING = "alloc is being migrated"
DESC_NODE_INFEASIBLE = "node is not eligible or feasible for the job"
DESC_RESCHEDULED = "alloc was rescheduled because it failed"


@dataclass
class Plan:
    """What an evaluation decided; applied in one transaction."""

    allocs: dict[str, Allocation] = field(default_factory=dict)
    new_evals: list[Evaluation] = field(default_factory=list)
    deployments: dict[str, Deployment] = field(default_factory=dict)
    failed_tg: dict[str, AllocMetric] = field(default_factory=dict)
    queued: dict[str, int] = field(default_factory=dict)
    placed: int = 0
    # Nomad's DesiredTGUpdates, for `nomad job plan` annotations.
    desired: dict[str, dict[str, int]] = field(default_factory=dict)

    def note(self, tg: str, what: str, n: int = 1) -> None:
        counts = self.desired.setdefault(tg, dict.fromkeys(_DESIRED_KINDS, 0))
        counts[what] += n

    def upsert(self, alloc: Allocation) -> None:
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


def alloc_index(alloc: Mapping[str, Any]) -> int:
    mt = _NAME_INDEX.search(alloc.get("Name", ""))
    return int(mt.group(1)) if mt else 0


def alloc_name(job_id: str, tg: str, index: int) -> str:
    return f"{job_id}.{tg}[{index}]"


# the snapshot ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClusterState:
    """Everything one evaluation decides on, read before the decision starts.

    `allocs` are the job's allocations, copied: the decision edits them into the plan, so
    a state is decided once.
    `nodes`, `usage`, `deployments` and `job_versions` are read only (the store replaces
    its objects, never edits them, so sharing them costs nothing and stays consistent).
    """

    evaluation: Evaluation
    job: Job | None
    allocs: list[Allocation]
    nodes: Mapping[str, Node]
    usage: Mapping[str, NodeUsage] = field(default_factory=dict)
    # `nodes.values()` as a list that is never changed (the store makes a new one when a
    # node changes), so that placement knows its node view by identity instead of by a
    # pass over every node; None: made here from `nodes`.
    node_list: list[Node] | None = None
    deployments: list[Deployment] = field(default_factory=list)
    # The earlier job versions that allocations still run, by version: whether an update
    # can be made in place depends on what changed since.
    job_versions: Mapping[int, Job] = field(default_factory=dict)


def snapshot(store: Store, ev: Evaluation, *, job: Job | None = None) -> ClusterState:
    """The store's state for evaluating `ev` (of `job` in place of the stored one, for a
    dry run)."""
    namespace, job_id = ev["Namespace"], ev["JobID"]
    current = job or store.job(namespace, job_id)
    allocs = [a.copy() for a in store.allocs_for_job(namespace, job_id)]
    version = int(current.get("Version") or 0) if current is not None else 0
    versions: dict[int, Job] = {}
    for alloc in allocs:
        ran = int(alloc.get("JobVersion", 0))
        if ran != version and ran not in versions:
            old = store.job_version(namespace, job_id, ran)
            if old is not None:
                versions[ran] = old
    return ClusterState(
        evaluation=ev,
        job=current,
        allocs=allocs,
        nodes=store.nodes,
        node_list=store.node_list(),
        usage=store.usage,
        deployments=store.deployments_for_job(namespace, job_id),
        job_versions=versions,
    )


def decide(
    state: ClusterState,
    now_ns: int,
    *,
    algorithm: str = "binpack",
    rng: random.Random | None = None,
) -> Plan:
    """The plan for `state.evaluation`: pure, given the snapshot (and `rng`, which draws
    the node order and dynamic ports)."""
    nodes = state.node_list if state.node_list is not None else list(state.nodes.values())
    placer = Placer(nodes, state.usage, algorithm=algorithm, rng=rng)
    run = _Run(state, placer, now_ns)
    if state.job is not None and state.job.get("Type") in ("system", "sysbatch"):
        run.system()
    else:
        run.generic()
    return run.plan


class Scheduler:
    """The scheduler as the server holds it: snapshot the store, then decide."""

    def __init__(self, store: Store, *, algorithm: str = "binpack") -> None:
        self.store = store
        self.algorithm = algorithm

    def plan(self, ev: Evaluation, now_ns: int, *, job_override: Job | None = None) -> Plan:
        state = snapshot(self.store, ev, job=job_override)
        return decide(state, now_ns, algorithm=self.algorithm)


@dataclass(slots=True)
class _GroupRun:
    """One task group's allocations as its reconciliation sorts them."""

    tg: TaskGroup
    count: int
    all_tg: list[Allocation]  # every allocation of the group, terminal ones included
    live: list[Allocation]  # running and staying (the decision removes and adds)
    replace: list[Allocation]  # lost or migrating: to replace
    done: list[Allocation]  # batch work finished for good
    reschedule_now: list[Allocation]  # failed, to reschedule in this plan

    @property
    def name(self) -> str:
        return self.tg["Name"]

    def satisfied(self) -> bool:
        return len(self.live) + len(self.done) >= self.count


class _Run:
    def __init__(self, state: ClusterState, placer: Placer, now: int) -> None:
        self.ev = state.evaluation
        self.job = state.job
        self.placer = placer
        self.now = now
        self.plan = Plan()
        self.nodes = state.nodes
        self.allocs = state.allocs
        self.deployments = state.deployments
        self.job_versions = state.job_versions
        self.stopped = self.job is None or bool(self.job.get("Stop"))
        self.deployment: Deployment | None = None

    # shared steps ----------------------------------------------------------------------

    def _stop(self, alloc: Allocation, desc: str, *, client_status: str | None = None) -> None:
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

    def _handle_nodes(self, live: list[Allocation]) -> tuple[list[Allocation], list[Allocation]]:
        """Split live allocations into those that stay and those to replace (lost,
        migrating); the latter are stopped here."""
        keep: list[Allocation] = []
        replace: list[Allocation] = []
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
        job: Job,
        tg: TaskGroup,
        name: str,
        placement: Placement,
        *,
        previous: Allocation | None = None,
        reschedule: bool = False,
        canary: bool = False,
    ) -> Allocation:
        now = self.now
        node = placement.node
        alloc: Allocation = {
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
            **m.alloc_resources(tg, placement.networks),
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
            "RescheduleTracker": (
                _next_tracker(tg, previous, now) if previous is not None and reschedule else None
            ),
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

    def _fail(self, tg: TaskGroup, metrics: AllocMetric, missing: int) -> None:
        prior = self.plan.failed_tg.get(tg["Name"])
        if prior is not None:
            prior["CoalescedFailures"] += missing
            return
        metrics["CoalescedFailures"] = missing - 1
        self.plan.failed_tg[tg["Name"]] = metrics
        self.plan.queued[tg["Name"]] = self.plan.queued.get(tg["Name"], 0) + missing

    def _place_one(
        self,
        job: Job,
        g: _GroupRun,
        name: str,
        *,
        previous: Allocation | None = None,
        reschedule: bool = False,
        canary: bool = False,
    ) -> Allocation | None:
        """Place one instance of the group (or record why it could not be placed)."""
        penalty = {previous["NodeID"]} if previous is not None and reschedule else None
        placement, metrics = self.placer.place(job, g.tg, penalty_nodes=penalty)
        if placement is None:
            self._fail(g.tg, metrics, 1)
            return None
        return self._new_alloc(
            job, g.tg, name, placement, previous=previous, reschedule=reschedule, canary=canary
        )

    def _in_place(self, alloc: Allocation, job: Job, tg: TaskGroup) -> bool:
        """Whether `alloc`, of an earlier version, takes `job`'s version without a restart."""
        old = self.job_versions.get(int(alloc.get("JobVersion", 0)))
        if not old:
            return False
        old_tg = _find_tg(old, tg["Name"])
        return old_tg is not None and not _destructive(old, old_tg, job, tg)

    # service and batch -----------------------------------------------------------------

    def generic(self) -> None:
        job = self.job
        tgs = {tg["Name"]: tg for tg in (job.get("TaskGroups") or [] if job else [])}
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
        self,
        job: Job,
        tg: TaskGroup,
        live: list[Allocation],
        replace: list[Allocation],
        batch: bool,
    ) -> None:
        g = self._sort_group(tg, live, replace, batch)
        canaries, want_canaries, canary_phase = self._canaries(job, g)
        self._scale_down(g)
        needs_canary = self._update(job, g, canary_phase)
        if needs_canary and len(canaries) < want_canaries:
            needs_canary.sort(key=alloc_index)
            for alloc in needs_canary[: want_canaries - len(canaries)]:
                self._place_one(job, g, alloc["Name"], canary=True)
        self._replace(job, g)
        self._scale_up(job, g)

    def _sort_group(
        self, tg: TaskGroup, live: list[Allocation], replace: list[Allocation], batch: bool
    ) -> _GroupRun:
        raw_count = tg.get("Count")
        all_tg = [a for a in self.allocs if a["TaskGroup"] == tg["Name"]]
        # Batch work that finished successfully is done; it is not run again.
        done = (
            [a for a in all_tg if a.get("ClientStatus") == m.ALLOC_COMPLETE and a not in live]
            if batch
            else []
        )
        # Failed allocations that may be rescheduled now, later, or never.
        reschedule_now: list[Allocation] = []
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
        return _GroupRun(
            tg=tg,
            count=int(raw_count) if raw_count is not None else 1,
            all_tg=all_tg,
            live=live,
            replace=replace,
            done=done,
            reschedule_now=reschedule_now,
        )

    def _canaries(self, job: Job, g: _GroupRun) -> tuple[list[Allocation], int, bool]:
        """Canaries: extra allocations of the new version beside the old ones until the
        deployment is promoted; then each takes the place of an old allocation. Returns
        the group's canaries, how many it wants, and whether it is still testing them."""
        version = int(job.get("Version") or 0)
        groups = self.deployment.get("TaskGroups") if self.deployment else None
        dep_state: DeploymentState = (groups.get(g.name) if groups else None) or {}
        want_canaries = int(dep_state.get("DesiredCanaries") or 0)
        canary_phase = want_canaries > 0 and not dep_state.get("Promoted")
        deployment = self.deployment
        canaries = [
            a
            for a in g.live
            if deployment
            and a.get("DeploymentID") == deployment["ID"]
            and (a.get("DeploymentStatus") or {}).get("Canary")
        ]
        if canary_phase:
            g.live = [a for a in g.live if a not in canaries]
        elif canaries:
            took_over = {a.get("NextAllocation") for a in g.all_tg}
            for canary in canaries:
                if canary["ID"] in took_over:
                    continue
                old_ones = [
                    a
                    for a in g.live
                    if a not in canaries and int(a.get("JobVersion", 0)) != version
                ]
                victim = next((a for a in old_ones if a["Name"] == canary["Name"]), None) or (
                    old_ones[0] if old_ones else None
                )
                if victim is not None:
                    self._stop(victim, DESC_UPDATING)
                    victim["NextAllocation"] = canary["ID"]
                    g.live.remove(victim)
        return canaries, want_canaries, canary_phase

    def _scale_down(self, g: _GroupRun) -> None:
        """Stop the highest-indexed instances beyond Count."""
        g.live.sort(key=alloc_index)
        satisfied = len(g.live) + len(g.done)
        while satisfied > g.count and g.live:
            victim = g.live.pop()
            self._stop(victim, DESC_NOT_NEEDED)
            satisfied -= 1

    def _update(self, job: Job, g: _GroupRun, canary_phase: bool) -> list[Allocation]:
        """Updates to a new job version: in place, or stop and replace (rolling, within
        the update block's max_parallel). Returns those waiting for canaries."""
        version = int(job.get("Version") or 0)
        stale = [a for a in g.live if int(a.get("JobVersion", 0)) != version]
        destructive_budget = self._destructive_budget(job, g.tg)
        needs_canary: list[Allocation] = []
        for alloc in stale:
            if self._in_place(alloc, job, g.tg):
                alloc["JobVersion"] = version
                alloc["EvalID"] = self.ev["ID"]
                if self.deployment:
                    alloc["DeploymentID"] = self.deployment["ID"]
                self.plan.upsert(alloc)
                self.plan.note(g.name, "InPlaceUpdate")
                continue
            # An update deferred (to canaries, or beyond max_parallel) leaves the allocation
            # untouched: `_scale_up` counts it as Ignore once, as Nomad's reconciler does.
            if canary_phase:
                needs_canary.append(alloc)
                continue
            if destructive_budget is not None:
                if destructive_budget <= 0:
                    continue
                destructive_budget -= 1
            self._stop(alloc, DESC_UPDATING)
            g.live.remove(alloc)
            placed = self._place_one(job, g, alloc["Name"], previous=alloc)
            if placed is not None:
                g.live.append(placed)
        return needs_canary

    def _replace(self, job: Job, g: _GroupRun) -> None:
        """Replace lost and migrating allocations (also those an earlier evaluation could
        not replace for want of room), and reschedule failed ones."""
        seen = {id(a) for a in g.replace}
        for alloc in g.all_tg:
            if id(alloc) in seen or alloc.get("NextAllocation") or alloc in g.live:
                continue
            if alloc.get("ClientStatus") == m.ALLOC_LOST or (
                alloc.get("DesiredDescription") == DESC_MIGRATING
            ):
                g.replace.append(alloc)
        for alloc in g.replace:
            if g.satisfied():
                break
            placed = self._place_one(job, g, alloc["Name"], previous=alloc)
            if placed is not None:
                g.live.append(placed)
        for alloc in g.reschedule_now:
            if g.satisfied():
                break
            placed = self._place_one(job, g, alloc["Name"], previous=alloc, reschedule=True)
            if placed is not None:
                g.live.append(placed)

    def _scale_up(self, job: Job, g: _GroupRun) -> None:
        """Scale up / first placement, reusing the lowest free name indexes."""
        pending_failed = [
            a
            for a in g.all_tg
            if a.get("ClientStatus") == m.ALLOC_FAILED
            and not a.get("NextAllocation")
            and a.get("DesiredStatus") == m.ALLOC_DESIRED_RUN
            and a not in g.done
        ]
        missing = g.count - len(g.live) - len(g.done) - len(pending_failed)
        untouched = sum(1 for a in g.live if a["ID"] not in self.plan.allocs)
        if untouched:
            self.plan.note(g.name, "Ignore", untouched)
        self.plan.desired.setdefault(g.name, dict.fromkeys(_DESIRED_KINDS, 0))
        if missing <= 0:
            return
        used = {alloc_index(a) for a in g.live + g.done + pending_failed}
        idx = 0
        for _ in range(missing):
            while idx in used:
                idx += 1
            used.add(idx)
            placement, metrics = self.placer.place(job, g.tg)
            if placement is None:
                remaining = missing - sum(1 for a in g.live if a["ID"] in self.plan.allocs)
                self._fail(g.tg, metrics, max(remaining, 1))
                break
            name = alloc_name(job["ID"], g.name, idx)
            g.live.append(self._new_alloc(job, g.tg, name, placement))

    def _reschedule_decision(self, tg: TaskGroup, alloc: Allocation) -> str:
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
        when = _fail_time(alloc) + _reschedule_delay(tg, alloc)
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

    def _destructive_budget(self, job: Job, tg: TaskGroup) -> int | None:
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

    def _ensure_deployment(self, job: Job, live: list[Allocation]) -> None:
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
        for d in self.deployments:
            if (
                d["Status"] in (m.DEPLOY_RUNNING, m.DEPLOY_PAUSED)
                and int(d["JobVersion"]) != version
            ):
                self._cancel(d, "Cancelled due to newer version of job")
        current = [d for d in self.deployments if int(d["JobVersion"]) == version]
        if current:
            latest = max(current, key=lambda d: d["CreateIndex"])
            if latest["Status"] in (m.DEPLOY_RUNNING, m.DEPLOY_PAUSED):
                self.deployment = cast(Deployment, json.loads(json.dumps(latest)))
            return
        # Nothing to roll out when every live allocation already runs this version and the
        # job was placed before (a plain re-evaluation).
        if live and all(int(a.get("JobVersion", 0)) == version for a in live):
            return
        self.deployment = m.new_deployment(job, groups, live, self.now)
        self.plan.deployments[self.deployment["ID"]] = self.deployment

    def _cancel(self, deployment: Deployment, why: str) -> None:
        cancelled = deployment.copy()
        cancelled["Status"] = m.DEPLOY_CANCELLED
        cancelled["StatusDescription"] = why
        self.plan.deployments[cancelled["ID"]] = cancelled

    def _cancel_deployments(self, why: str) -> None:
        for d in self.deployments:
            if d["Status"] in (m.DEPLOY_RUNNING, m.DEPLOY_PAUSED):
                self._cancel(d, why)

    # system and sysbatch ---------------------------------------------------------------

    def system(self) -> None:
        job = self.job
        assert job is not None
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
        ready: dict[str, Node] = {n["ID"]: n for n in self.placer.ready_nodes(job)}
        for name, tg in tgs.items():
            self.plan.queued.setdefault(name, 0)
            on_node: dict[str, Allocation] = {}
            for alloc in keep:
                if alloc["TaskGroup"] != name:
                    continue
                if alloc["NodeID"] not in ready:
                    self._stop(alloc, DESC_NODE_INFEASIBLE)
                    continue
                on_node[alloc["NodeID"]] = alloc
            self._system_group(job, tg, ready, on_node)

    def _system_group(
        self, job: Job, tg: TaskGroup, ready: dict[str, Node], on_node: dict[str, Allocation]
    ) -> None:
        """One allocation of the group on every ready node (a sysbatch job's once)."""
        name = tg["Name"]
        version = int(job.get("Version") or 0)
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
                if self._in_place(existing, job, tg):
                    existing["JobVersion"] = version
                    self.plan.upsert(existing)
                    continue
                self._stop(existing, DESC_UPDATING)
            elif job.get("Type") == "sysbatch" and node_id in finished:
                continue
            placement, metrics = self.placer.place(job, tg, only_node=node)
            if placement is None:
                # A system job that does not fit a node is reported, not queued forever.
                self._fail(tg, metrics, 1)
                self.plan.queued[name] = 0
                continue
            self._new_alloc(job, tg, alloc_name(job["ID"], name, 0), placement, previous=existing)


def _next_tracker(tg: TaskGroup, previous: Allocation, now: int) -> RescheduleTracker:
    """The replacement's reschedule history: the failed allocation's, plus this event."""
    events = list(((previous.get("RescheduleTracker") or {}).get("Events")) or [])
    events.append(
        {
            "RescheduleTime": now,
            "PrevAllocID": previous["ID"],
            "PrevNodeID": previous["NodeID"],
            "Delay": _reschedule_delay(tg, previous),
        }
    )
    return {"Events": events}


def _find_tg(job: Job, name: str) -> TaskGroup | None:
    for tg in job.get("TaskGroups") or []:
        if tg.get("Name") == name:
            return tg.copy()
    return None


def _strip_services(task: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in task.items() if k not in ("Services",)}


def _destructive(old_job: Job, old_tg: TaskGroup, new_job: Job, new_tg: TaskGroup) -> bool:
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


def _fail_time(alloc: Allocation) -> int:
    latest = 0
    for state in (alloc_pack.task_states(alloc) or {}).values():
        latest = max(latest, m.parse_rfc3339_ns(state.get("FinishedAt")))
    return latest or int(alloc.get("ModifyTime") or 0)


def _reschedule_delay(tg: TaskGroup, alloc: Allocation) -> int:
    policy: ReschedulePolicy = tg.get("ReschedulePolicy") or {}
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

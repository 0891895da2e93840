"""Applying an evaluation's plan: every write it makes in one store transaction.

The allocations, deployments, follow-up and blocked evaluations, the evaluation itself and
the job's new status are written together, as Nomad's plan applier commits a plan in one
Raft entry. The job's status is settled inside the same transaction so that the store's
own settling after the commit finds nothing left to write (one commit per evaluation, not
two).
"""

from __future__ import annotations

import gc
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal, cast

from yurt.scheduler import model as m
from yurt.scheduler import store as s
from yurt.scheduler.feasible import view_of
from yurt.scheduler.structs import Allocation, Deployment, Evaluation, Node

if TYPE_CHECKING:
    from yurt.scheduler.ops_base import OpsBase as Operations
    from yurt.scheduler.reconcile import Plan


def apply_plan(ops: Operations, ev: Evaluation, plan: Plan) -> list[Evaluation]:
    """Write the plan and complete `ev`; returns the new pending evaluations (for the
    broker, once committed)."""
    store = ops.store
    new_evals: list[Evaluation] = []
    share_alike_parts(plan.allocs.values())
    with store.write() as txn:
        now = m.now_ns()
        for planned in plan.deployments.values():
            if not planned["CreateIndex"]:
                planned["CreateIndex"] = txn.index
            planned["ModifyIndex"] = txn.index
        for alloc in plan.allocs.values():
            if not alloc["CreateIndex"]:
                alloc["CreateIndex"] = txn.index
                dep = plan.deployments.get(alloc.get("DeploymentID") or "")
                if dep is None and alloc.get("DeploymentID"):
                    stored = store.deployments.get(alloc["DeploymentID"])
                    if stored is not None:
                        dep = cast(Deployment, json.loads(json.dumps(stored)))
                        dep["ModifyIndex"] = txn.index
                        plan.deployments[dep["ID"]] = dep
                if dep is not None and alloc["TaskGroup"] in dep["TaskGroups"]:
                    dep["TaskGroups"][alloc["TaskGroup"]]["PlacedAllocs"] += 1
            alloc["ModifyIndex"] = txn.index
            alloc["AllocModifyIndex"] = txn.index
            alloc["ModifyTime"] = now
            txn.put(s.ALLOC, alloc["ID"], alloc)
        for planned in plan.deployments.values():
            planned["ModifyTime"] = now
            txn.put(s.DEPLOYMENT, planned["ID"], planned)
        for follow in plan.new_evals:
            new_evals.append(ops._put_eval(txn, follow))
        done = ev.copy()
        done["Status"] = m.EVAL_COMPLETE
        done["FailedTGAllocs"] = plan.failed_tg or None
        done["QueuedAllocations"] = plan.queued
        done["ModifyTime"] = now
        if not plan.failed_tg:
            # Nomad's state store rule: an evaluation that placed everything cancels the
            # job's blocked ones (a stopped job's would otherwise keep it from GC forever).
            for other in store.evals_for_job(ev["Namespace"], ev["JobID"]):
                if other["Status"] == m.EVAL_BLOCKED and other["ID"] != ev["ID"]:
                    canceled = other.copy()
                    canceled["Status"] = m.EVAL_CANCELED
                    canceled["StatusDescription"] = f'evaluation "{other["ID"]}" successful'
                    canceled["ModifyTime"] = now
                    ops._put_eval(txn, canceled)
        if plan.failed_tg and ev.get("Type") not in ("system", "sysbatch"):
            already = any(
                e["Status"] == m.EVAL_BLOCKED and e["ID"] != ev["ID"]
                for e in store.evals_for_job(ev["Namespace"], ev["JobID"])
            )
            if not already:
                job = store.job(ev["Namespace"], ev["JobID"]) or {
                    "ID": ev["JobID"],
                    "Namespace": ev["Namespace"],
                    "Type": ev["Type"],
                }
                blocked = m.new_eval(
                    job,
                    m.TRIGGER_QUEUED_ALLOCS,
                    txn.index,
                    status=m.EVAL_BLOCKED,
                    previous_eval=ev["ID"],
                )
                blocked["StatusDescription"] = "created to place remaining allocations"
                ops._put_eval(txn, blocked)
                done["BlockedEval"] = blocked["ID"]
        if plan.deployments and not done.get("DeploymentID"):
            running = [d for d in plan.deployments.values() if d["Status"] == m.DEPLOY_RUNNING]
            if running:
                done["DeploymentID"] = running[0]["ID"]
        if not done.get("DeploymentID") and ev.get("Type") != "batch":
            # Nomad's scheduler names the job's latest deployment on every evaluation it
            # completes (a stop's evaluation names the deployment it cancelled).
            created = {
                str(d["ID"]): int(d["CreateIndex"])
                for d in (
                    *store.deployments_for_job(ev["Namespace"], ev["JobID"]),
                    *plan.deployments.values(),
                )
            }
            if created:
                done["DeploymentID"] = max(created, key=lambda i: created[i])
        ops._put_eval(txn, done)
        settle_job_statuses(store, txn)
    LONG_LIVED.settle()
    return new_evals


class LongLived:
    """Keeps the cyclic garbage collector off the committed state.

    The store holds every allocation as a graph of dicts and lists that lives until the
    allocation is collected by the scheduler's own GC; Python's collector would rescan all
    of it on each full collection (a pause that grows with the cluster: about a second at
    50,000 allocations). After each plan the objects alive are frozen (`gc.freeze`: moved
    out of the generations the collector scans); freed state still goes by reference
    counting. Cyclic garbage frozen along with them is reclaimed by one full collection
    each time the frozen heap has grown `regrow` times over, which keeps the collector's
    total work linear in the objects created and its pauses rare.

    That full collection is a pause of its own (about 100 ms at 1,000 nodes x 10,000
    allocations), so it waits for the worker to find the broker empty (`when_idle`) rather
    than landing inside whichever evaluation crossed the mark; only a scheduler that is
    never idle takes it inside an evaluation, once the heap has grown `busy` times past that
    mark, so the frozen garbage stays bounded."""

    def __init__(self, regrow: float = 4.0, busy: float = 4.0, floor: int = 200_000) -> None:
        self.regrow = regrow
        self.busy = busy
        self.floor = floor
        self._frozen = 0  # objects frozen so far (counting the frozen list is O(n))
        self._collected_at = 0
        self.full_collections = 0

    def settle(self) -> None:
        # The young generations hold the few objects this plan made: collecting their
        # cycles and counting the survivors is cheap.
        gc.collect(1)
        self._frozen += sum(len(gc.get_objects(generation)) for generation in range(3))
        gc.freeze()
        if self._grown_past(self.busy):
            self._collect()

    def when_idle(self) -> None:
        # What was made since the last plan (node registrations, their evaluations) is
        # frozen now, not by the next plan's young collection.
        self.settle()
        if self._grown_past(1.0):
            self._collect()

    def _grown_past(self, factor: float) -> bool:
        return self._frozen > factor * max(self.floor, self._collected_at * self.regrow)

    def _collect(self) -> None:
        gc.unfreeze()
        gc.collect()
        gc.freeze()
        self._frozen = self._collected_at = gc.get_freeze_count()
        self.full_collections += 1


LONG_LIVED = LongLived()


# Parts of a new allocation that are the same for every allocation of its task group (the
# tasks' resources, lifecycles, the empty desired transition): placing a group of 100 keeps
# one copy instead of 100. Stored objects are never changed in place (every writer copies
# what it changes), which is what makes sharing them safe.
_ALIKE_TOP: tuple[Literal["TaskResources", "DesiredTransition"], ...] = (
    "TaskResources",
    "DesiredTransition",
)
_ALIKE_ALLOCATED: tuple[Literal["Tasks", "TaskLifecycles"], ...] = ("Tasks", "TaskLifecycles")


def share_alike_parts(allocs: Iterable[Allocation]) -> None:
    """Make equal parts of the new allocations one object (hash-consing within a plan)."""
    seen: dict[tuple[str, str, str], Any] = {}

    def alike(group: str, name: str, where: str, value: Any) -> Any:
        if value is None:
            return None
        key = (group, name, where)
        prior = seen.get(key)
        if prior is not None and prior is not value and prior == value:
            return prior
        seen[key] = value
        return value

    for alloc in allocs:
        if alloc.get("CreateIndex"):
            continue  # an update of a stored allocation: left as the writer made it
        group = str(alloc.get("TaskGroup"))
        for name in _ALIKE_TOP:
            if name in alloc:
                alloc[name] = alike(group, name, "", alloc[name])
        allocated = alloc.get("AllocatedResources")
        if isinstance(allocated, dict):
            for part in _ALIKE_ALLOCATED:
                if part in allocated:
                    allocated[part] = alike(group, part, "AllocatedResources", allocated[part])


def settle_job_statuses(store: s.Store, txn: s.Txn) -> None:
    """Put the new status of every job whose allocations or evaluations this transaction
    changes, reading them as they will be once it commits."""
    touched: dict[tuple[str, str], tuple[dict[str, Allocation], dict[str, Evaluation]]] = {}
    for kind, key, obj in txn.puts:
        if kind not in (s.ALLOC, s.EVAL) or obj is None or not obj.get("JobID"):
            continue
        owner = (str(obj.get("Namespace") or m.DEFAULT_NAMESPACE), str(obj["JobID"]))
        allocs, evals = touched.setdefault(owner, ({}, {}))
        # the store keeps rows of every kind as one mapping type: these are of their kind
        if kind == s.ALLOC:
            allocs[key] = cast(Allocation, obj)
        else:
            evals[key] = cast(Evaluation, obj)
    for (namespace, job_id), (planned_allocs, planned_evals) in touched.items():
        job = store.job(namespace, job_id)
        if job is None:
            continue
        allocs = {a["ID"]: a for a in store.allocs_for_job(namespace, job_id)}
        allocs.update(planned_allocs)
        evals = {e["ID"]: e for e in store.evals_for_job(namespace, job_id)}
        evals.update(planned_evals)
        status = m.job_status(job, list(allocs.values()), list(evals.values()))
        if job.get("Status") != status:
            txn.put(
                s.JOB,
                s.job_key(namespace, job_id),
                {**job, "Status": status, "ModifyIndex": txn.index},
            )


def draining_nodes(store: s.Store) -> list[Node]:
    """The nodes with a drain in progress, found without a scan of every node while the
    node table is unchanged (the node view caches it)."""
    return view_of(store.node_list()).draining()

"""Allocation operations: the user's stop (a migrate transition and an evaluation) and the
client's status updates, which drive rescheduling, the deployment watcher and drains."""

from __future__ import annotations

from typing import Literal

from yurt.scheduler import model as m
from yurt.scheduler import store as s
from yurt.scheduler.errors import InvalidRequest
from yurt.scheduler.ops_base import Obj
from yurt.scheduler.ops_deployments import DeploymentOps
from yurt.scheduler.ops_nodes import NodeOps
from yurt.scheduler.responses import AllocStopResponse
from yurt.scheduler.structs import Allocation, AllocDeploymentStatus, Evaluation

# What a client reports of its allocation; everything else is the server's.
_CLIENT_FIELDS: tuple[
    Literal["ClientStatus", "ClientDescription", "TaskStates", "NetworkStatus"], ...
] = ("ClientStatus", "ClientDescription", "TaskStates", "NetworkStatus")


class AllocationOps(DeploymentOps, NodeOps):
    def stop_alloc(self, alloc: Allocation) -> AllocStopResponse:
        job = self._job_or_stub(alloc["Namespace"], alloc["JobID"], alloc.get("JobType", "service"))
        with self.store.write() as txn:
            upd = alloc.copy()
            upd["DesiredTransition"] = {**(alloc.get("DesiredTransition") or {}), "Migrate": True}
            upd["ModifyIndex"] = txn.index
            upd["AllocModifyIndex"] = txn.index
            txn.put(s.ALLOC, upd["ID"], upd)
            ev = self._put_eval(txn, m.new_eval(job, m.TRIGGER_ALLOC_STOP, txn.index))
        self._enqueue([ev])
        return {"EvalID": ev["ID"], "Index": txn.index}

    def client_update_allocs(self, node_id: str, updates: list[Obj]) -> int:
        evals: list[Evaluation] = []
        touched_deployments: set[str] = set()
        with self.store.write() as txn:
            for upd in updates:
                new, failed_now = self._client_update(txn, node_id, upd)
                if new.get("DeploymentID") and upd.get("DeploymentStatus") is not None:
                    touched_deployments.add(new["DeploymentID"])
                if failed_now:
                    job = self.stored_job(new["Namespace"], new["JobID"])
                    if job is not None and not job.get("Stop"):
                        ev = m.new_eval(job, m.TRIGGER_RETRY_FAILED_ALLOC, txn.index)
                        evals.append(self._put_eval(txn, ev))
        self._enqueue(evals)
        for dep_id in touched_deployments:
            self._watch_deployment(dep_id)
        self._finish_drains()
        return self.store.index

    def _client_update(self, txn: s.Txn, node_id: str, upd: Obj) -> tuple[Allocation, bool]:
        """One allocation's update from its node (`upd`: the client's JSON, as it sent
        it), written; and whether it has just failed while it should run (a reschedule is
        due). The client's fields are copied over the stored row by name."""
        alloc_id = upd.get("ID") or ""
        alloc = self.store.allocs.get(alloc_id)
        if alloc is None or alloc.get("NodeID") != node_id:
            raise InvalidRequest(f"allocation {alloc_id} is not on node {node_id}")
        new = alloc.copy()
        was = alloc.get("ClientStatus")
        # A lost allocation stays lost: the server already replaced it.
        if was != m.ALLOC_LOST:
            for key in _CLIENT_FIELDS:
                if key in upd:
                    new[key] = upd[key]
        if upd.get("DeploymentStatus") is not None:
            # Whether it is a canary is the server's to say; the client reports health.
            was_canary = bool((alloc.get("DeploymentStatus") or {}).get("Canary"))
            reported: AllocDeploymentStatus = upd["DeploymentStatus"]
            new["DeploymentStatus"] = {
                **reported,
                "Canary": was_canary,
                "ModifyIndex": txn.index,
            }
        new["ModifyIndex"] = txn.index
        new["ModifyTime"] = m.now_ns()
        txn.put(s.ALLOC, alloc_id, new)
        failed_now = (
            new.get("ClientStatus") == m.ALLOC_FAILED
            and was != m.ALLOC_FAILED
            and new.get("DesiredStatus") == m.ALLOC_DESIRED_RUN
        )
        return new, failed_now

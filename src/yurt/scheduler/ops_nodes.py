"""Node operations: registration and heartbeats (yurt's client protocol), a missed
heartbeat marking a node down, scheduling eligibility, drain and its completion, and the
node-update evaluations each of these makes."""

from __future__ import annotations

import logging
import time

from yurt.scheduler import model as m
from yurt.scheduler import plan_apply
from yurt.scheduler import store as s
from yurt.scheduler.errors import InvalidRequest, PermissionDenied
from yurt.scheduler.ops_base import OpsBase
from yurt.scheduler.placement import computed_class
from yurt.scheduler.responses import NodeHeartbeatResponse
from yurt.scheduler.structs import (
    DrainSpec,
    Evaluation,
    Node,
    NodeEvent,
    NodeUpdateResponse,
    Resources,
)

log = logging.getLogger(__name__)

NODE_SECRET_MISMATCH = "node secret does not match"
# Nomad keeps a node's last ten events.
_EVENTS_KEPT = 10


def _event(message: str) -> NodeEvent:
    return {
        "Message": message,
        "Subsystem": "Cluster",
        "Details": None,
        "Timestamp": m.rfc3339(),
        "CreateIndex": 0,
    }


class NodeOps(OpsBase):
    def _node(self, node_id: str) -> Node | None:
        return self.store.nodes.get(node_id)

    def _put_node(self, txn: s.Txn, node: Node) -> None:
        node["ModifyIndex"] = txn.index
        txn.put(s.NODE, node["ID"], node)

    def register_node(self, node: Node) -> NodeHeartbeatResponse:
        existing = self._node(node["ID"])
        if (
            existing is not None
            and existing.get("SecretID")
            and (existing["SecretID"] != node.get("SecretID"))
        ):
            raise PermissionDenied(NODE_SECRET_MISMATCH)
        new = _registered(existing, node)
        with self.store.write() as txn:
            new["CreateIndex"] = existing["CreateIndex"] if existing else txn.index
            self._put_node(txn, new)
            evals = self._node_evals(txn, new, include_system=True)
        self._enqueue(evals)
        if self.on_node_alive is not None:
            self.on_node_alive(new["ID"])
        return {"NodeID": new["ID"], "HeartbeatTTL": self.heartbeat_ttl, "Index": txn.index}

    def _node_evals(self, txn: s.Txn, node: Node, *, include_system: bool) -> list[Evaluation]:
        """node-update evals: every job with allocations on the node, system jobs, and the
        blocked evaluations that a changed node may now satisfy."""
        evals: list[Evaluation] = []
        seen: set[tuple[str, str]] = set()
        for alloc in self.store.allocs_for_node(node["ID"]):
            if m.alloc_is_terminal(alloc):
                continue
            key = (alloc["Namespace"], alloc["JobID"])
            if key in seen:
                continue
            seen.add(key)
            job = self._job_or_stub(*key, alloc.get("JobType", "service"))
            evals.append(
                self._put_eval(
                    txn, m.new_eval(job, m.TRIGGER_NODE_UPDATE, txn.index, node_id=node["ID"])
                )
            )
        if include_system:
            for job in self.stored_jobs():
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
            for ev in self.store.evals.values():
                if ev["Status"] == m.EVAL_BLOCKED:
                    unblocked = ev.copy()
                    unblocked["Status"] = m.EVAL_PENDING
                    unblocked["ModifyTime"] = m.now_ns()
                    evals.append(self._put_eval(txn, unblocked))
        return evals

    def evaluate_node(self, node: Node) -> NodeUpdateResponse:
        """`nomad node eval`: node-update evaluations for everything the node runs."""
        with self.store.write() as txn:
            evals = self._node_evals(txn, node, include_system=True)
        self._enqueue(evals)
        return _update_response(evals, txn.index, node["ModifyIndex"])

    def heartbeat(self, node: Node) -> NodeHeartbeatResponse:
        if node.get("Status") != m.NODE_READY:
            # A node that was marked down and heartbeats again is back.
            return self.register_node({"ID": node["ID"], "SecretID": node.get("SecretID", "")})
        if self.on_node_alive is not None:
            self.on_node_alive(node["ID"])
        return {"HeartbeatTTL": self.heartbeat_ttl}

    def node_down(self, node_id: str) -> None:
        node = self._node(node_id)
        if node is None or node.get("Status") == m.NODE_DOWN:
            return
        log.warning("node %s (%s) missed its heartbeat: marking it down", node_id, node.get("Name"))
        new = node.copy()
        new["Status"] = m.NODE_DOWN
        new["StatusUpdatedAt"] = int(time.time())
        new["Events"] = [*(node.get("Events") or []), _event("Node heartbeat missed")][
            -_EVENTS_KEPT:
        ]
        with self.store.write() as txn:
            self._put_node(txn, new)
            evals = self._node_evals(txn, new, include_system=False)
        self._enqueue(evals)

    def set_eligibility(self, node: Node, eligible: bool) -> NodeUpdateResponse:
        if node.get("DrainStrategy") is not None and eligible:
            raise InvalidRequest(
                "can not set node's scheduling eligibility to eligible while draining"
            )
        new = node.copy()
        new["SchedulingEligibility"] = "eligible" if eligible else "ineligible"
        with self.store.write() as txn:
            self._put_node(txn, new)
            evals = self._node_evals(txn, new, include_system=True) if eligible else []
        self._enqueue(evals)
        return _update_response(evals, txn.index, txn.index)

    def drain(self, node: Node, spec: DrainSpec | None, mark_eligible: bool) -> NodeUpdateResponse:
        new = _drained(node, spec, mark_eligible, m.now_ns())
        with self.store.write() as txn:
            self._put_node(txn, new)
            evals = self._node_evals(txn, new, include_system=not spec)
        self._enqueue(evals)
        self._finish_drains()
        return _update_response(evals, txn.index, txn.index)

    def _finish_drains(self) -> None:
        """A draining node whose allocations have all stopped is drained: its strategy goes
        and its last drain is complete."""
        for node in plan_apply.draining_nodes(self.store):
            busy = any(
                a.get("DesiredStatus") == m.ALLOC_DESIRED_RUN
                and not m.alloc_client_terminal(a)
                and not (
                    (node.get("DrainStrategy") or {}).get("IgnoreSystemJobs")
                    and a.get("JobType") in ("system", "sysbatch")
                )
                for a in self.store.allocs_for_node(node["ID"])
            )
            if busy:
                continue
            new = node.copy()
            new["DrainStrategy"] = None
            new["LastDrain"] = {
                **(node.get("LastDrain") or {}),
                "Status": "complete",
                "UpdatedAt": m.rfc3339(),
            }
            with self.store.write() as txn:
                self._put_node(txn, new)


def _update_response(evals: list[Evaluation], index: int, node_index: int) -> NodeUpdateResponse:
    return {
        "EvalIDs": [e["ID"] for e in evals] or None,
        "EvalCreateIndex": index,
        "NodeModifyIndex": node_index,
        "Index": index,
    }


def _registered(existing: Node | None, node: Node) -> Node:
    """The node as stored after a (re-)registration: what the client sent over what was
    known, Nomad's defaults for what neither says, ready, and an event if it was not."""
    new = existing.copy() if existing else node.copy()
    new.update(node)
    new.setdefault("NodePool", "default")
    new.setdefault("NodeClass", "")
    new.setdefault("Meta", {})
    new["ComputedClass"] = computed_class(new)
    new["Status"] = m.NODE_READY
    new["StatusDescription"] = ""
    new["StatusUpdatedAt"] = int(time.time())
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
    events = list((existing.get("Events") if existing else None) or [])
    if existing is None or existing.get("Status") != m.NODE_READY:
        events.append(_event("Node registered" if existing is None else "Node re-registered"))
    new["Events"] = events[-_EVENTS_KEPT:]
    return new


def _drained(node: Node, spec: DrainSpec | None, mark_eligible: bool, now: int) -> Node:
    """The node with a drain started (`spec`) or cancelled (None)."""
    new = node.copy()
    if spec:
        deadline = int(spec.get("Deadline") or 0)
        new["DrainStrategy"] = {
            "Deadline": deadline,
            "IgnoreSystemJobs": bool(spec.get("IgnoreSystemJobs")),
            "ForceDeadline": m.rfc3339(now + deadline) if deadline > 0 else "0001-01-01T00:00:00Z",
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
        last = new.get("LastDrain")
        if last:
            new["LastDrain"] = {
                **last,
                "Status": "canceled",
                "UpdatedAt": m.rfc3339(now),
            }
    return new


def _legacy_resources(node: Node) -> Resources:
    res = node.get("NodeResources") or {}
    return {
        "CPU": int((res.get("Cpu") or {}).get("CpuShares") or 0),
        "MemoryMB": int((res.get("Memory") or {}).get("MemoryMB") or 0),
        "DiskMB": int((res.get("Disk") or {}).get("DiskMB") or 0),
        "Networks": None,
    }

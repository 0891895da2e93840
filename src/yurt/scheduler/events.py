"""Nomad's event stream, the pure part: the events one committed store write gives, and
which of them a subscription (its topics and namespace) receives.

Nomad derives a write's events from the Raft message that made it: every object the write
changed becomes one event of that object's topic, all typed by the message (a plan that
places allocations gives `PlanResult` events on the Allocation, Evaluation, Deployment and
Job topics alike). yurt's writes carry no message type, so `write_type` reads it from the
changes themselves; a job-status write that follows another write (`Store` settles job
statuses in a write of its own) takes the type of the write that caused it, as in Nomad
both are one message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from yurt.scheduler import alloc_pack
from yurt.scheduler import store as s
from yurt.scheduler.structs import Allocation

# An event's payload and frame: JSON built here from rows of any kind, sent as it is.
Obj = dict[str, Any]
# (kind, key, the row before, the row after); None = absent. Rows of every kind are handled
# alike (the stream reads a few shared fields and passes the row on as its payload).
Change = s.Change

ALL = "*"

# topics (nomad/structs/event.go)
JOB = "Job"
EVALUATION = "Evaluation"
ALLOCATION = "Allocation"
DEPLOYMENT = "Deployment"
NODE = "Node"
NODE_POOL = "NodePool"
ACL_TOKEN = "ACLToken"
ACL_POLICY = "ACLPolicy"
SERVICE = "Service"
VARIABLE = "Variable"

# event types
NODE_REGISTRATION = "NodeRegistration"
NODE_DEREGISTRATION = "NodeDeregistration"
NODE_DRAIN = "NodeDrain"
NODE_EVENT = "NodeStreamEvent"
NODE_POOL_UPSERTED = "NodePoolUpserted"
NODE_POOL_DELETED = "NodePoolDeleted"
DEPLOYMENT_STATUS_UPDATE = "DeploymentStatusUpdate"
DEPLOYMENT_PROMOTION = "DeploymentPromotion"
DEPLOYMENT_ALLOC_HEALTH = "DeploymentAllocHealth"
ALLOCATION_CREATED = "AllocationCreated"
ALLOCATION_UPDATED = "AllocationUpdated"
ALLOCATION_UPDATE_DESIRED_STATUS = "AllocationUpdateDesiredStatus"
EVALUATION_UPDATED = "EvaluationUpdated"
JOB_REGISTERED = "JobRegistered"
JOB_DEREGISTERED = "JobDeregistered"
JOB_BATCH_DEREGISTERED = "JobBatchDeregistered"
PLAN_RESULT = "PlanResult"
ACL_TOKEN_UPSERTED = "ACLTokenUpserted"
ACL_TOKEN_DELETED = "ACLTokenDeleted"
ACL_POLICY_UPSERTED = "ACLPolicyUpserted"
ACL_POLICY_DELETED = "ACLPolicyDeleted"
SERVICE_REGISTRATION = "ServiceRegistration"
SERVICE_DEREGISTRATION = "ServiceDeregistration"
VARIABLE_UPDATED = "VariableUpdated"

NODE_POOL_KIND = s.NODE_POOL

# The store's kinds that have a topic, and the payload field naming the object.
TOPIC_OF: dict[str, tuple[str, str]] = {
    s.JOB: (JOB, "Job"),
    s.EVAL: (EVALUATION, "Evaluation"),
    s.ALLOC: (ALLOCATION, "Allocation"),
    s.DEPLOYMENT: (DEPLOYMENT, "Deployment"),
    s.NODE: (NODE, "Node"),
    s.ACL_TOKEN: (ACL_TOKEN, "ACLToken"),
    s.ACL_POLICY: (ACL_POLICY, "ACLPolicy"),
    NODE_POOL_KIND: (NODE_POOL, "NodePool"),
    s.SERVICE: (SERVICE, "Service"),
    s.VARIABLE: (VARIABLE, "Metadata"),
}
# kinds whose objects are in no namespace
_GLOBAL = frozenset({s.NODE, s.ACL_TOKEN, s.ACL_POLICY, NODE_POOL_KIND})
# what a variable event tells of it: never its (sealed) items
_VARIABLE_METADATA = (
    "Namespace",
    "Path",
    "Lock",
    "CreateIndex",
    "CreateTime",
    "ModifyIndex",
    "ModifyTime",
)

# Every topic a subscription may name (the Nomad topics yurt has objects for).
TOPICS = frozenset(topic for topic, _ in TOPIC_OF.values())


@dataclass(frozen=True, slots=True)
class Event:
    topic: str
    type: str
    key: str
    namespace: str
    filter_keys: tuple[str, ...] | None
    index: int
    payload: Obj

    def to_json(self) -> Obj:
        return {
            "Topic": self.topic,
            "Type": self.type,
            "Key": self.key,
            "Namespace": self.namespace,
            "FilterKeys": list(self.filter_keys) if self.filter_keys is not None else None,
            "Index": self.index,
            "Payload": self.payload,
        }


# --- the type of a write ---------------------------------------------------------------


def _changed(old: s.Row | None, new: s.Row | None, *fields: str) -> bool:
    return any((old or {}).get(f) != (new or {}).get(f) for f in fields)


def _node_type(old: s.Row | None, new: s.Row | None) -> str:
    if new is None:
        return NODE_DEREGISTRATION
    if old is None:
        return NODE_REGISTRATION
    # Nomad types an eligibility change as a drain (its NodeUpdateEligibility message).
    if _changed(old, new, "DrainStrategy", "Drain", "SchedulingEligibility"):
        return NODE_DRAIN
    if _changed(old, new, "Status", "Events"):
        return NODE_EVENT
    return NODE_REGISTRATION


def _job_type(changes: Sequence[Change]) -> str | None:
    """JobRegistered/JobDeregistered when the write registers or stops a job (with its
    evaluation), JobBatchDeregistered when it purges jobs without one (garbage collection);
    None when no job was registered or deregistered (a status or stability update)."""
    jobs = [(old, new) for kind, _, old, new in changes if kind == s.JOB]
    if not jobs:
        return None
    new_eval = any(kind == s.EVAL and old is None for kind, _, old, _new in changes)
    for old, new in jobs:
        if new is None:
            return JOB_DEREGISTERED if new_eval else JOB_BATCH_DEREGISTERED
        if new.get("Stop") and not (old or {}).get("Stop"):
            return JOB_DEREGISTERED
        if old is None or _changed(old, new, "JobModifyIndex"):
            return JOB_REGISTERED
    return None


def _deployment_type(changes: Sequence[Change]) -> str | None:
    for kind, _, old, new in changes:
        if kind != s.DEPLOYMENT or old is None or new is None:
            continue
        groups_old = old.get("TaskGroups") or {}
        for name, group in (new.get("TaskGroups") or {}).items():
            before = groups_old.get(name) or {}
            if group.get("Promoted") and not before.get("Promoted"):
                return DEPLOYMENT_PROMOTION
        if _changed(old, new, "Status", "StatusDescription"):
            return DEPLOYMENT_STATUS_UPDATE
    return None


def _alloc_type(changes: Sequence[Change]) -> str | None:
    allocs = [(old, new) for kind, _, old, new in changes if kind == s.ALLOC and new is not None]
    if not allocs:
        return None
    # the scheduler's plan: it creates allocations or changes what they should be
    if any(
        old is None or _changed(old, new, "DesiredStatus", "NodeID", "JobVersion")
        for old, new in allocs
    ):
        return PLAN_RESULT
    if any(_changed(old, new, "DesiredTransition") for old, new in allocs):
        return ALLOCATION_UPDATE_DESIRED_STATUS
    return ALLOCATION_UPDATED


def write_type(changes: Sequence[Change], declared: str = "") -> str:
    """The event type of a write that changed jobs, evaluations, allocations or
    deployments (nodes, node pools and ACL objects are typed one by one); `declared`: the
    type its writer gave it (`Txn.event_type`), when the changes alone cannot tell."""
    if declared:
        return declared
    # a node's registration, status or drain: the evaluations it makes are of that message
    for kind, _, old, new in changes:
        if kind == s.NODE:
            return _node_type(old, new)
    for typed in (_job_type, _alloc_type, _deployment_type):
        found = typed(changes)
        if found is not None:
            return found
    return EVALUATION_UPDATED


# --- the events of a write -------------------------------------------------------------


def _redacted_token(token: s.Row) -> Obj:
    out = {k: v for k, v in token.items() if k != "SecretHash"}
    out["SecretID"] = ""
    return out


def _payload(kind: str, obj: s.Row) -> s.Row:
    if kind == s.ALLOC:
        # Nomad strips the job from allocation events: it is on the Job topic
        return {k: v for k, v in alloc_pack.wire(cast(Allocation, obj)).items() if k != "Job"}
    if kind == s.NODE:
        return {**obj, "SecretID": ""}
    if kind == s.ACL_TOKEN:
        return _redacted_token(obj)
    if kind == s.VARIABLE:
        return {k: obj.get(k) for k in _VARIABLE_METADATA}
    return obj


def _filter_keys(kind: str, obj: s.Row) -> tuple[str, ...] | None:
    if kind in (s.EVAL, s.ALLOC):
        return (str(obj.get("JobID", "")), str(obj.get("DeploymentID") or ""))
    if kind == s.DEPLOYMENT:
        return (str(obj.get("JobID", "")),)
    if kind == s.SERVICE:
        return (str(obj.get("JobID", "")), str(obj.get("ServiceName", "")))
    return None


def _event_key(kind: str, key: str, obj: s.Row) -> str:
    if kind == s.JOB:
        return str(obj.get("ID", key))
    if kind == s.ACL_TOKEN:
        return str(obj.get("AccessorID", key))
    if kind in (s.ACL_POLICY, NODE_POOL_KIND):
        return str(obj.get("Name", key))
    if kind == s.VARIABLE:
        return str(obj.get("Path", key))
    return str(obj.get("ID", key))


def _one_type(kind: str, old: s.Row | None, new: s.Row | None, shared: str) -> str:
    if kind == s.NODE:
        return _node_type(old, new)
    if kind == s.ACL_TOKEN:
        return ACL_TOKEN_DELETED if new is None else ACL_TOKEN_UPSERTED
    if kind == s.ACL_POLICY:
        return ACL_POLICY_DELETED if new is None else ACL_POLICY_UPSERTED
    if kind == NODE_POOL_KIND:
        return NODE_POOL_DELETED if new is None else NODE_POOL_UPSERTED
    if kind == s.SERVICE:
        return SERVICE_DEREGISTRATION if new is None else SERVICE_REGISTRATION
    if kind == s.VARIABLE:
        return VARIABLE_UPDATED
    return shared


def events_of(
    changes: Sequence[Change], index: int, cause: Sequence[Change] = (), declared: str = ""
) -> list[Event]:
    """The events of the write committed at `index`; `cause`: the changes of the write
    this one follows from (a job status settled after it), whose type it takes;
    `declared`: the type the writer gave the write."""
    shared = write_type(cause or changes, declared)
    out: list[Event] = []
    for kind, key, old, new in changes:
        topic = TOPIC_OF.get(kind)
        if topic is None:
            continue
        obj = new if new is not None else old
        if obj is None:
            continue
        if new is None and kind in (s.EVAL, s.ALLOC, s.DEPLOYMENT):
            continue  # reaped by garbage collection: Nomad sends no event
        name, field = topic
        namespace = "" if kind in _GLOBAL else str(obj.get("Namespace") or "default")
        payload: Obj = {field: _payload(kind, obj)}
        if kind == s.VARIABLE:
            payload["Deleted"] = new is None
        out.append(
            Event(
                topic=name,
                type=_one_type(kind, old, new, shared),
                key=_event_key(kind, key, obj),
                namespace=namespace,
                filter_keys=_filter_keys(kind, obj),
                index=index,
                payload=payload,
            )
        )
    return out


# --- subscriptions ---------------------------------------------------------------------


class TopicError(ValueError):
    pass


def parse_topics(raw: Sequence[str]) -> dict[str, list[str]]:
    """`?topic=Topic:key` values -> {topic: [keys]}; no topic at all means every topic.
    A bare `Topic` means `Topic:*`."""
    if not raw:
        return {ALL: [ALL]}
    topics: dict[str, list[str]] = {}
    for item in raw:
        parts = item.split(":")
        if len(parts) == 1:
            topic, key = item, ALL
        elif len(parts) == 2:
            topic, key = parts
        else:
            raise TopicError(f"Invalid key value pair for topic, topic: {item}")
        topics.setdefault(topic, []).append(key)
    return topics


def matches(event: Event, topics: Mapping[str, Sequence[str]], namespace: str) -> bool:
    """Whether a subscription to `topics` in `namespace` (`*`: all) receives `event`.
    Events of no namespace (nodes, ACL objects) reach every namespace."""
    if namespace != ALL and event.namespace and event.namespace != namespace:
        return False
    for topic in (event.topic, ALL):
        for key in topics.get(topic, ()):
            if key == ALL or key == event.key or key in (event.filter_keys or ()):
                return True
    return False


def frame(index: int, events: Sequence[Event]) -> Obj:
    """One line of the stream: the events of one index."""
    return {"Index": index, "Events": [e.to_json() for e in events]}

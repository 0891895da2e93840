"""The event stream's pure part and its buffer: which events a committed write gives (types,
keys, filter keys, payloads as Nomad 1.1.2 sent them for the same actions), which a
subscription receives, and the bounded buffer's replay and slow-subscriber rule. Then the
same through real operations on a real store."""

from __future__ import annotations

from typing import Any

import pytest

from tests.scheduler import jobs as J
from tests.scheduler.ops_fixture import settle
from yurt.scheduler import events as ev
from yurt.scheduler import store as s
from yurt.scheduler.event_buffer import DROPPED, Batch, DroppedError, EventBuffer
from yurt.scheduler.operations import Operations

Obj = dict[str, Any]

JOB = {"ID": "web", "Namespace": "default", "JobModifyIndex": 10, "Stop": False}
EVAL = {"ID": "e1", "Namespace": "default", "JobID": "web", "DeploymentID": ""}
ALLOC = {
    "ID": "a1",
    "Namespace": "default",
    "JobID": "web",
    "DeploymentID": "d1",
    "DesiredStatus": "run",
    "ClientStatus": "pending",
    "NodeID": "n1",
    "Job": JOB,
}
DEP = {"ID": "d1", "Namespace": "default", "JobID": "web", "Status": "running"}


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        # register: the job and its new evaluation, both JobRegistered
        ([(s.JOB, "k", None, JOB), (s.EVAL, "e1", None, EVAL)], ev.JOB_REGISTERED),
        # a new version of the spec
        (
            [(s.JOB, "k", JOB, {**JOB, "JobModifyIndex": 12}), (s.EVAL, "e1", None, EVAL)],
            ev.JOB_REGISTERED,
        ),
        # stop, and purge with an evaluation: JobDeregistered
        (
            [(s.JOB, "k", JOB, {**JOB, "Stop": True}), (s.EVAL, "e1", None, EVAL)],
            ev.JOB_DEREGISTERED,
        ),
        ([(s.JOB, "k", JOB, None), (s.EVAL, "e1", None, EVAL)], ev.JOB_DEREGISTERED),
        # purged by garbage collection, no evaluation
        ([(s.JOB, "k", JOB, None)], ev.JOB_BATCH_DEREGISTERED),
        # the plan: new allocations, the deployment, the evaluation
        (
            [
                (s.ALLOC, "a1", None, ALLOC),
                (s.DEPLOYMENT, "d1", None, DEP),
                (s.EVAL, "e1", EVAL, {**EVAL, "Status": "complete"}),
            ],
            ev.PLAN_RESULT,
        ),
        ([(s.ALLOC, "a1", ALLOC, {**ALLOC, "DesiredStatus": "stop"})], ev.PLAN_RESULT),
        # the client's report
        ([(s.ALLOC, "a1", ALLOC, {**ALLOC, "ClientStatus": "running"})], ev.ALLOCATION_UPDATED),
        (
            [(s.ALLOC, "a1", ALLOC, {**ALLOC, "DesiredTransition": {"Migrate": True}})],
            ev.ALLOCATION_UPDATE_DESIRED_STATUS,
        ),
        (
            [(s.DEPLOYMENT, "d1", DEP, {**DEP, "Status": "paused"})],
            ev.DEPLOYMENT_STATUS_UPDATE,
        ),
        (
            [
                (
                    s.DEPLOYMENT,
                    "d1",
                    {**DEP, "TaskGroups": {"g": {"Promoted": False}}},
                    {**DEP, "TaskGroups": {"g": {"Promoted": True}}},
                )
            ],
            ev.DEPLOYMENT_PROMOTION,
        ),
        ([(s.EVAL, "e1", EVAL, {**EVAL, "Status": "complete"})], ev.EVALUATION_UPDATED),
    ],
)
def test_the_type_of_a_write(changes: list[ev.Change], expected: str) -> None:
    assert ev.write_type(changes) == expected
    assert {e.type for e in ev.events_of(changes, 7)} == {expected}


NODE = {"ID": "n1", "SecretID": "s3cret", "SchedulingEligibility": "eligible", "Status": "ready"}


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (None, NODE, ev.NODE_REGISTRATION),
        (NODE, None, ev.NODE_DEREGISTRATION),
        (NODE, {**NODE, "SchedulingEligibility": "ineligible"}, ev.NODE_DRAIN),
        (NODE, {**NODE, "DrainStrategy": {"Deadline": 1}}, ev.NODE_DRAIN),
        (NODE, {**NODE, "Status": "down"}, ev.NODE_EVENT),
        (NODE, {**NODE, "Attributes": {"a": "b"}}, ev.NODE_REGISTRATION),
    ],
)
def test_node_events_are_typed_one_by_one(old: Obj | None, new: Obj | None, expected: str) -> None:
    (event,) = ev.events_of([(s.NODE, "n1", old, new)], 3)
    assert (event.topic, event.type, event.key, event.namespace) == ("Node", expected, "n1", "")
    # the node's secret never leaves the server
    assert event.payload["Node"]["SecretID"] == ""


def test_payloads_keys_and_filter_keys_as_nomad() -> None:
    alloc, dep, evaluation = ev.events_of(
        [(s.ALLOC, "a1", None, ALLOC), (s.DEPLOYMENT, "d1", None, DEP), (s.EVAL, "e1", None, EVAL)],
        11,
    )
    assert alloc.to_json() == {
        "Topic": "Allocation",
        "Type": "PlanResult",
        "Key": "a1",
        "Namespace": "default",
        "FilterKeys": ["web", "d1"],
        "Index": 11,
        # the job is on the Job topic, not repeated in every allocation event
        "Payload": {"Allocation": {k: v for k, v in ALLOC.items() if k != "Job"}},
    }
    assert (dep.key, dep.filter_keys, dep.payload) == ("d1", ("web",), {"Deployment": DEP})
    assert (evaluation.filter_keys, evaluation.payload) == (("web", ""), {"Evaluation": EVAL})
    (job,) = ev.events_of([(s.JOB, "default\x00web", None, JOB)], 12)
    assert (job.key, job.filter_keys, job.payload) == ("web", None, {"Job": JOB})


def test_acl_events_redact_secrets_and_variables_hide_items() -> None:
    token = {"AccessorID": "acc", "SecretHash": "h", "Name": "t", "Type": "client"}
    upsert, delete = ev.events_of(
        [(s.ACL_TOKEN, "acc", None, token), (s.ACL_POLICY, "p", {"Name": "p"}, None)], 5
    )
    assert (upsert.type, upsert.key, upsert.payload) == (
        "ACLTokenUpserted",
        "acc",
        {"ACLToken": {"AccessorID": "acc", "Name": "t", "Type": "client", "SecretID": ""}},
    )
    assert (delete.type, delete.key, delete.namespace) == ("ACLPolicyDeleted", "p", "")
    var = {"Namespace": "default", "Path": "a/b", "Data": "sealed", "KeyID": "k", "Lock": None}
    (event,) = ev.events_of([(s.VARIABLE, "default\x00a/b", var, None)], 6)
    assert (event.topic, event.type, event.key) == ("Variable", "VariableUpdated", "a/b")
    assert event.payload["Deleted"] is True
    assert "Data" not in event.payload["Metadata"] and "KeyID" not in event.payload["Metadata"]


def test_settled_status_writes_take_the_type_of_their_cause() -> None:
    cause: list[ev.Change] = [(s.ALLOC, "a1", ALLOC, {**ALLOC, "ClientStatus": "running"})]
    status = [(s.JOB, "k", JOB, {**JOB, "Status": "running"})]
    (event,) = ev.events_of(status, 9, cause)
    assert (event.topic, event.type) == ("Job", "AllocationUpdated")
    # a writer that names its write's type wins
    (event,) = ev.events_of(cause, 9, declared=ev.DEPLOYMENT_ALLOC_HEALTH)
    assert event.type == "DeploymentAllocHealth"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ([], {"*": ["*"]}),
        (["Job"], {"Job": ["*"]}),
        (["Job:web", "Job:api", "Allocation:*"], {"Job": ["web", "api"], "Allocation": ["*"]}),
    ],
)
def test_parse_topics(raw: list[str], expected: dict[str, list[str]]) -> None:
    assert ev.parse_topics(raw) == expected


def test_a_topic_with_two_colons_is_refused_with_nomads_text() -> None:
    with pytest.raises(ev.TopicError, match=r"^Invalid key value pair for topic, topic: Job:a:b$"):
        ev.parse_topics(["Job:a:b"])


_ALLOC_EVENT = ev.events_of([(s.ALLOC, "a1", None, ALLOC)], 4)[0]
_NODE_EVENT = ev.events_of([(s.NODE, "n1", None, NODE)], 4)[0]
_OTHER_NS = ev.events_of([(s.ALLOC, "a2", None, {**ALLOC, "ID": "a2", "Namespace": "prod"})], 4)[0]


@pytest.mark.parametrize(
    ("event", "topics", "namespace", "expected"),
    [
        (_ALLOC_EVENT, {"*": ["*"]}, "default", True),
        (_ALLOC_EVENT, {"Allocation": ["a1"]}, "default", True),
        # allocations are found by their job and deployment too (their filter keys)
        (_ALLOC_EVENT, {"Allocation": ["web"]}, "default", True),
        (_ALLOC_EVENT, {"Allocation": ["d1"]}, "default", True),
        (_ALLOC_EVENT, {"Allocation": ["other"]}, "default", False),
        (_ALLOC_EVENT, {"Job": ["*"]}, "default", False),
        (_ALLOC_EVENT, {"*": ["web"]}, "default", True),
        (_OTHER_NS, {"*": ["*"]}, "default", False),
        (_OTHER_NS, {"*": ["*"]}, "prod", True),
        (_OTHER_NS, {"*": ["*"]}, "*", True),
        # nodes are in no namespace: every subscription may get them
        (_NODE_EVENT, {"Node": ["*"]}, "prod", True),
    ],
)
def test_matches(
    event: ev.Event, topics: dict[str, list[str]], namespace: str, expected: bool
) -> None:
    assert ev.matches(event, topics, namespace) is expected


def _batch(index: int) -> Batch:
    return Batch(index, (_NODE_EVENT,))


def test_the_buffer_replays_from_an_index_and_keeps_only_its_size() -> None:
    buffer = EventBuffer(size=3)
    for index in (2, 4, 6, 8):
        buffer.append(_batch(index))
    # 2 fell off: from the start (0) or from an index no longer held, the oldest held
    assert [b.index for b in buffer.after(buffer.start_cursor(0))] == [4, 6, 8]
    assert [b.index for b in buffer.after(buffer.start_cursor(1))] == [4, 6, 8]
    assert [b.index for b in buffer.after(buffer.start_cursor(6))] == [6, 8]
    assert [b.index for b in buffer.after(buffer.start_cursor(7))] == [8]
    assert buffer.after(buffer.start_cursor(9)) == []


def test_a_subscriber_behind_the_buffer_is_dropped() -> None:
    buffer = EventBuffer(size=2)
    buffer.append(_batch(2))
    cursor = buffer.start_cursor(0)
    assert [b.index for b in buffer.after(cursor)] == [2]
    cursor = 2
    for index in (3, 4, 5):
        buffer.append(_batch(index))
    # 3 is gone before this subscriber read it
    with pytest.raises(DroppedError, match=f"^{DROPPED}$"):
        buffer.after(cursor)


def test_operations_give_nomads_events(ops: Operations) -> None:
    buffer = EventBuffer.attach(ops.store)
    ops.register_job(J.job("web", groups=[J.group("web", count=2)]))
    settle(ops)
    ops.deregister_job("default", "web", purge=False)
    settle(ops)
    seen = [(e.topic, e.type) for b in buffer.after(0) for e in b.events]
    assert seen[:2] == [("Job", "JobRegistered"), ("Evaluation", "JobRegistered")]
    assert ("Allocation", "PlanResult") in seen
    assert ("Job", "JobDeregistered") in seen
    assert seen.count(("Allocation", "PlanResult")) == 4  # two placed, then two stopped
    # each batch is one index, in order
    indexes = [b.index for b in buffer.after(0)]
    assert indexes == sorted(set(indexes))
    assert all(e.index == b.index for b in buffer.after(0) for e in b.events)


def test_a_node_write_types_the_evaluations_it_makes() -> None:
    changes: list[ev.Change] = [
        (s.NODE, "n1", NODE, {**NODE, "Status": "down"}),
        (s.EVAL, "e1", None, EVAL),
    ]
    assert [(e.topic, e.type) for e in ev.events_of(changes, 8)] == [
        ("Node", "NodeStreamEvent"),
        ("Evaluation", "NodeStreamEvent"),
    ]

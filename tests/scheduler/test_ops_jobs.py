"""Job operations on a real store, without HTTP: register makes an evaluation (or none, for
periodic and parameterized parents), check-and-set, deregister and purge, scale, revert,
stable, force evaluation; each refusal with Nomad's text."""

from __future__ import annotations

from typing import Any

import pytest

from tests.scheduler import jobs as J
from tests.scheduler.ops_fixture import pending, settle
from yurt.scheduler import model as m
from yurt.scheduler import store as s
from yurt.scheduler.errors import Conflict, InvalidRequest, NotFound, SchedulerError
from yurt.scheduler.operations import Operations

Obj = dict[str, Any]
PERIODIC = {"Enabled": True, "Spec": "*/5 * * * *", "SpecType": "cron", "ProhibitOverlap": False}
PARAMETERIZED = {"Payload": "optional", "MetaRequired": None, "MetaOptional": None}


@pytest.mark.parametrize(
    ("extra", "evals"),
    [
        ({}, [m.TRIGGER_JOB_REGISTER]),
        ({"Periodic": PERIODIC}, []),
        ({"ParameterizedJob": PARAMETERIZED}, []),
        # a stopped parent still gets one, to stop what it runs
        ({"Periodic": PERIODIC, "Stop": True}, [m.TRIGGER_JOB_REGISTER]),
    ],
)
def test_register_makes_an_evaluation_unless_a_parent(
    ops: Operations, extra: Obj, evals: list[str]
) -> None:
    result = ops.register_job(J.job("web", **extra))
    made = pending(ops.store)
    assert [e["TriggeredBy"] for e in made] == evals
    assert result["EvalID"] == (made[0]["ID"] if made else "")
    job = ops.store.job("default", "web")
    # a stopped job with nothing running is dead at once (the store settles statuses)
    status = m.JOB_DEAD if extra.get("Stop") else m.JOB_PENDING
    assert job is not None and job["Version"] == 0 and job["Status"] == status
    assert result["JobModifyIndex"] == job["JobModifyIndex"] == job["CreateIndex"]


@pytest.mark.parametrize(
    ("change", "version"),
    [(None, 0), ({"Priority": 70}, 1), ({"Meta": {"a": "b"}}, 1)],
)
def test_register_again_makes_a_version_only_when_the_spec_changes(
    ops: Operations, change: Obj | None, version: int
) -> None:
    ops.register_job(J.job("web"))
    ops.register_job(J.job("web", **(change or {})))
    job = ops.store.job("default", "web")
    assert job is not None and job["Version"] == version
    assert [v["Version"] for v in ops.store.job_versions("default", "web")] == list(
        range(version, -1, -1)
    )


@pytest.mark.parametrize(
    ("exists", "index", "error"),
    [
        (False, 0, None),
        (True, 0, "Enforcing job modify index 0: job already exists"),
        (False, 5, "Enforcing job modify index 5: job exists with conflicting job modify index: 0"),
        (True, -1, None),  # -1: the current index
        (True, 999, "job exists with conflicting job modify index"),
    ],
)
def test_register_enforces_the_modify_index(
    ops: Operations, exists: bool, index: int, error: str | None
) -> None:
    current = ops.register_job(J.job("web"))["JobModifyIndex"] if exists else 0
    if index == -1:
        index = current
    call = lambda: ops.register_job(  # noqa: E731
        J.job("web", Priority=60), enforce_index=True, job_modify_index=index
    )
    if error is None:
        assert call()["JobModifyIndex"] > current
        return
    with pytest.raises(Conflict, match=error):
        call()


def test_register_can_preserve_the_counts(ops: Operations) -> None:
    ops.register_job(J.job("web", groups=[J.group(count=3)]))
    ops.register_job(J.job("web", groups=[J.group(count=1)], Priority=60), preserve_counts=True)
    job = ops.store.job("default", "web")
    assert job is not None and job["TaskGroups"][0]["Count"] == 3 and job["Priority"] == 60


@pytest.mark.parametrize(("purge", "kept"), [(False, True), (True, False)])
def test_deregister_stops_or_purges(ops: Operations, purge: bool, kept: bool) -> None:
    ops.register_job(J.job("web", groups=[J.group(count=2)]))
    settle(ops)
    assert len(ops.store.allocs_for_job("default", "web")) == 2
    result = ops.deregister_job("default", "web", purge=purge)
    (ev,) = pending(ops.store)
    assert ev["ID"] == result["EvalID"] and ev["TriggeredBy"] == m.TRIGGER_JOB_DEREGISTER
    job = ops.store.job("default", "web")
    assert (job is not None) is kept
    if job is not None:
        assert job["Stop"] is True and job["Version"] == 1
    settle(ops)
    allocs = ops.store.allocs_for_job("default", "web")
    assert {a["DesiredStatus"] for a in allocs} == {m.ALLOC_DESIRED_STOP}


@pytest.mark.parametrize("purge", [False, True])
def test_deregister_of_an_unknown_job_is_an_evaluation(ops: Operations, purge: bool) -> None:
    # Nomad's Job.Deregister: a job that is not there (never was, or already purged) is
    # no error; the evaluation finds nothing to stop.
    result = ops.deregister_job("default", "nope", purge=purge)
    (ev,) = pending(ops.store)
    assert (ev["ID"], ev["JobID"], ev["TriggeredBy"]) == (
        result["EvalID"],
        "nope",
        m.TRIGGER_JOB_DEREGISTER,
    )
    assert result["JobModifyIndex"] == result["EvalCreateIndex"]
    settle(ops)
    assert ops.store.job("default", "nope") is None


def test_stop_version_keeps_submit_time_and_stable(ops: Operations) -> None:
    ops.register_job(J.job("web"), stable=True)
    first = ops.store.job("default", "web")
    assert first is not None and first["Stable"] is True
    ops.deregister_job("default", "web", purge=False)
    stopped = ops.store.job("default", "web")
    assert stopped is not None
    assert (stopped["Version"], stopped["Stop"]) == (1, True)
    assert (stopped["SubmitTime"], stopped["Stable"]) == (first["SubmitTime"], True)


@pytest.mark.parametrize(
    ("group", "count", "error", "expected"),
    [
        ("web", 4, None, 4),
        ("web", 0, None, 0),
        ("web", None, None, 2),  # no count: nothing changes
        ("db", 1, 'task group "db" specified for scaling does not exist in job', 2),
        ("web", -1, "scaling action count can't be negative", 2),
    ],
)
def test_scale(
    ops: Operations, group: str, count: int | None, error: str | None, expected: int
) -> None:
    ops.register_job(J.job("web", groups=[J.group(count=2)]))
    if error is None:
        result = ops.scale_job("default", "web", group, count)
        triggers = [e["TriggeredBy"] for e in pending(ops.store)]
        assert (m.TRIGGER_SCALING in triggers) is (count is not None)
        assert result["EvalID"] == ("" if count is None else result["EvalID"])
    else:
        with pytest.raises(InvalidRequest) as caught:
            ops.scale_job("default", "web", group, count)
        assert caught.value.message == error
    job = ops.store.job("default", "web")
    assert job is not None and job["TaskGroups"][0]["Count"] == expected


@pytest.mark.parametrize(
    ("version", "prior", "error", "priority"),
    [
        (0, None, None, 50),
        (0, 1, None, 50),
        (0, 0, "enforcing version 0 but current version is 1", 60),
        (1, None, "can't revert to current version 1", 60),
        (7, None, "job 'web' at version 7 not found", 60),
    ],
)
def test_revert(
    ops: Operations, version: int, prior: int | None, error: str | None, priority: int
) -> None:
    ops.register_job(J.job("web"))
    ops.register_job(J.job("web", Priority=60))
    if error is None:
        ops.revert_job("default", "web", version, prior)
    else:
        with pytest.raises(InvalidRequest) as caught:
            ops.revert_job("default", "web", version, prior)
        assert caught.value.message == error
    job = ops.store.job("default", "web")
    assert job is not None and job["Priority"] == priority
    assert job["Version"] == (2 if error is None else 1)


@pytest.mark.parametrize(
    ("version", "stable", "current_stable", "old_stable"),
    [(1, True, True, False), (0, True, False, True), (1, False, False, False)],
)
def test_set_stable_marks_the_version_and_the_current_job(
    ops: Operations, version: int, stable: bool, current_stable: bool, old_stable: bool
) -> None:
    ops.register_job(J.job("web"))
    ops.register_job(J.job("web", Priority=60))
    ops.set_stable("default", "web", version, stable)
    job = ops.store.job("default", "web")
    old = ops.store.job_version("default", "web", 0)
    assert job is not None and old is not None
    assert (job["Stable"], old["Stable"]) == (current_stable, old_stable)


def test_set_stable_of_an_unknown_version_is_not_found(ops: Operations) -> None:
    ops.register_job(J.job("web"))
    with pytest.raises(NotFound, match=r"^job not found$"):
        ops.set_stable("default", "web", 3, True)


@pytest.mark.parametrize(
    ("extra", "force", "error"),
    [
        ({}, False, None),
        ({}, True, None),
        ({"Periodic": PERIODIC}, False, "can't evaluate periodic or parameterized job"),
        (
            {"ParameterizedJob": PARAMETERIZED},
            False,
            "can't evaluate periodic or parameterized job",
        ),
    ],
)
def test_evaluate(ops: Operations, extra: Obj, force: bool, error: str | None) -> None:
    ops.register_job(J.job("web", **extra))
    settle(ops)
    if error is not None:
        with pytest.raises(InvalidRequest, match=error):
            ops.evaluate_job("default", "web", force_reschedule=force)
        return
    result = ops.evaluate_job("default", "web", force_reschedule=force)
    (ev,) = pending(ops.store)
    assert ev["ID"] == result["EvalID"] and ev["TriggeredBy"] == m.TRIGGER_JOB_REGISTER


def test_force_reschedule_marks_failed_allocations(ops: Operations) -> None:
    ops.register_job(J.job("web", groups=[J.group(count=2)]))
    settle(ops)
    first, second = ops.store.allocs_for_job("default", "web")
    failed = dict(first, ClientStatus=m.ALLOC_FAILED)
    with ops.store.write() as txn:
        txn.put(s.ALLOC, failed["ID"], failed)
    ops.evaluate_job("default", "web", force_reschedule=True)
    marked = {
        a["ID"]: (a.get("DesiredTransition") or {}).get("ForceReschedule")
        for a in ops.store.allocs_for_job("default", "web")
    }
    assert marked == {first["ID"]: True, second["ID"]: None}


def test_every_refusal_is_a_domain_error(ops: Operations) -> None:
    # The operations know nothing of HTTP: what they refuse is a SchedulerError.
    for call in (
        lambda: ops.job_or_404("default", "nope"),
        lambda: ops.scale_job("default", "nope", "web", 1),
        lambda: ops.revert_job("default", "nope", 0, None),
        lambda: ops.evaluate_job("default", "nope"),
    ):
        with pytest.raises(SchedulerError, match=r"^job not found$"):
            call()


def test_the_operations_know_nothing_of_http() -> None:
    # Refusals are domain errors mapped at the edge (yurt.scheduler.api_common.STATUS_OF):
    # no operations module imports the HTTP layer.
    import ast
    from pathlib import Path

    import yurt.scheduler

    package = Path(yurt.scheduler.__file__).parent
    modules = sorted([package / "operations.py", *package.glob("ops_*.py")])
    assert len(modules) >= 7
    for path in modules:
        imported: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
        http = {name for name in imported if name.startswith(("aiohttp", "yurt.api"))}
        assert http == set(), f"{path.name} imports {http}"

"""Child jobs without HTTP: dispatch of a parameterized job (Nomad's checks of meta keys and
payload, with its texts), forced and scheduled periodic launches."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.scheduler import jobs as J
from tests.scheduler.ops_fixture import pending
from yurt.scheduler import model as m
from yurt.scheduler.errors import InvalidRequest
from yurt.scheduler.operations import Operations
from yurt.scheduler.ops_periodic import check_dispatch

Obj = dict[str, Any]
PAYLOAD = base64.b64encode(b"hello").decode()


def _param(payload: str = "optional", required: list[str] | None = None) -> Obj:
    return {"Payload": payload, "MetaRequired": required, "MetaOptional": ["opt"]}


@pytest.mark.parametrize(
    ("extra", "payload", "meta", "error"),
    [
        ({"ParameterizedJob": _param()}, "", {}, None),
        ({"ParameterizedJob": _param()}, PAYLOAD, {"opt": "1"}, None),
        ({}, "", {}, 'Specified job "batch" is not a parameterized job'),
        ({"ParameterizedJob": _param(), "Stop": True}, "", {}, 'Specified job "batch" is stopped'),
        (
            {"ParameterizedJob": _param(required=["who", "what"])},
            "",
            {"who": "x"},
            "Dispatch did not provide required meta keys: what",
        ),
        (
            {"ParameterizedJob": _param(required=["who"])},
            "",
            {"who": "x", "bad": "y"},
            "Dispatch contains unpermitted meta keys: bad. Permitted keys: who, opt",
        ),
        (
            {"ParameterizedJob": _param("required")},
            "",
            {},
            "Payload is not provided but required by parameterized job",
        ),
        (
            {"ParameterizedJob": _param("forbidden")},
            PAYLOAD,
            {},
            "Payload provided but forbidden by parameterized job",
        ),
        ({"ParameterizedJob": _param()}, "not base64!", {}, "Payload: expected base64"),
    ],
)
def test_check_dispatch(extra: Obj, payload: str, meta: Obj, error: str | None) -> None:
    job = J.job("batch", job_type="batch", **extra)
    if error is None:
        check_dispatch(job, payload, meta)
        return
    with pytest.raises(InvalidRequest) as caught:
        check_dispatch(job, payload, meta)
    assert caught.value.message == error


def test_dispatch_launches_a_child_with_its_meta_and_payload(ops: Operations) -> None:
    parent = J.job("batch", job_type="batch", ParameterizedJob=_param(), Meta={"a": "1"})
    ops.register_job(parent)
    assert pending(ops.store) == []
    result = ops.dispatch("default", "batch", PAYLOAD, {"opt": "2"})
    child_id = result["DispatchedJobID"]
    assert child_id.startswith("batch/dispatch-")
    child = ops.store.job("default", child_id)
    assert child is not None
    assert (child["ParentID"], child["Dispatched"], child["Payload"]) == ("batch", True, PAYLOAD)
    assert child["Meta"] == {"a": "1", "opt": "2"} and child["ParameterizedJob"] is None
    (ev,) = pending(ops.store)
    assert (ev["ID"], ev["JobID"]) == (result["EvalID"], child_id)


@pytest.mark.parametrize(
    ("periodic", "error"),
    [
        ({"Enabled": True, "Spec": "0 0 * * *"}, None),
        ({"Enabled": False, "Spec": "0 0 * * *"}, "job is not periodic"),
        (None, "job is not periodic"),
    ],
)
def test_force_periodic(ops: Operations, periodic: Obj | None, error: str | None) -> None:
    ops.register_job(J.job("cron", job_type="batch", Periodic=periodic))
    if error is not None:
        with pytest.raises(InvalidRequest, match=error):
            ops.force_periodic("default", "cron")
        return
    result = ops.force_periodic("default", "cron")
    (ev,) = pending(ops.store)
    assert ev["ID"] == result["EvalID"] and ev["TriggeredBy"] == m.TRIGGER_PERIODIC
    assert ev["JobID"].startswith("cron/periodic-")


def test_periodic_due_and_launch(ops: Operations) -> None:
    ops.register_job(
        J.job("cron", job_type="batch", Periodic={"Enabled": True, "Spec": "0 * * * *"})
    )
    ops.register_job(
        J.job("off", job_type="batch", Periodic={"Enabled": False, "Spec": "0 * * * *"})
    )
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    due = ops.periodic_due(now)
    assert [(job["ID"], when) for job, when in due] == [
        ("cron", datetime(2026, 1, 2, 4, 0, tzinfo=UTC))
    ]
    job, when = due[0]
    ops.launch_periodic(job, when)
    ops.launch_periodic(job, when)  # the same launch twice is one child
    children = [j["ID"] for j in ops.store.jobs() if j.get("ParentID") == "cron"]
    assert children == [f"cron/periodic-{int(when.timestamp())}"]

"""What a user does to a job through `/v1/job/<id>/<action>`: plan (a dry run with its
diff), force an evaluation, scale a group, force a periodic launch, dispatch, revert, mark a
version stable. `api_jobs` declares the routes."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from aiohttp import web

from yurt.api.casing import get_field
from yurt.api.errors import APIError
from yurt.api.http import expect_object, json_response, read_json
from yurt.scheduler import jobspec_bridge
from yurt.scheduler.api_common import (
    Obj,
    index_headers,
    int_field,
    namespace,
    server_of,
    utcnow,
    written,
)
from yurt.scheduler.cron import Cron, CronError
from yurt.scheduler.job_keys import normalize_job_keys
from yurt.scheduler.jobdiff import job_diff
from yurt.scheduler.structs import Job

# Go's zero time, which Nomad answers for "no next launch".
_NO_LAUNCH = "0001-01-01T00:00:00Z"


async def plan(request: web.Request) -> web.Response:
    srv = server_of(request)
    job_id = request.match_info["id"]
    body = expect_object(await read_json(request), "body")
    job = normalize_job_keys(expect_object(get_field(body, "Job"), "Job"))
    if job.get("ID") != job_id:
        raise APIError.bad_request("Job ID does not match")
    job = jobspec_bridge.canonicalize(job)
    errors, warnings = jobspec_bridge.validate(job)
    if errors:
        raise APIError.bad_request(errors)
    job.setdefault("Namespace", namespace(request))
    proposed = cast(Job, job)  # canonical and validated: a Job from here on
    existing = srv.store.job(job["Namespace"], job_id)
    _, planned = srv.ops.plan_job(proposed)
    diff = None
    if get_field(body, "Diff"):
        diff = job_diff(existing, proposed, planned.desired, bool(get_field(body, "Contextual")))
    index = srv.store.index
    out = {
        "Annotations": {"DesiredTGUpdates": planned.desired, "PreemptedAllocs": None},
        "FailedTGAllocs": planned.failed_tg or None,
        "JobModifyIndex": existing["JobModifyIndex"] if existing else 0,
        "CreatedEvals": None,
        "Diff": diff,
        "NextPeriodicLaunch": _next_launch(request, job) or _NO_LAUNCH,
        "Warnings": "\n".join(warnings),
        "Index": index,
    }
    return json_response(out, headers=index_headers(index))


def _next_launch(request: web.Request, job: Obj) -> str:
    """When a periodic job would launch next: the launcher's schedule if it is registered,
    else its cron spec from now ("" if it is not periodic or its spec is invalid)."""
    if not job.get("Periodic"):
        return ""
    now = utcnow()
    due: list[datetime | None] = [
        when for j, when in server_of(request).ops.periodic_due(now) if j["ID"] == job["ID"]
    ]
    if not due:
        try:
            due = [Cron(str(job["Periodic"].get("Spec") or "")).next_after(now)]
        except CronError:
            due = []
    first = due[0] if due else None
    return first.strftime("%Y-%m-%dT%H:%M:%SZ") if first else ""


async def evaluate(request: web.Request) -> web.Response:
    body = await read_json(request) or {}
    options = get_field(expect_object(body, "body"), "EvalOptions") or {}
    force = bool(get_field(expect_object(options, "EvalOptions"), "ForceReschedule"))
    ops = server_of(request).ops
    return written(
        ops.evaluate_job(namespace(request), request.match_info["id"], force_reschedule=force)
    )


async def scale(request: web.Request) -> web.Response:
    body = expect_object(await read_json(request), "body")
    target = get_field(body, "Target") or {}
    group = get_field(target, "Group") if isinstance(target, dict) else None
    if not group:
        raise APIError.bad_request("missing task group name")
    count = int_field(body, "Count")
    ops = server_of(request).ops
    return written(ops.scale_job(namespace(request), request.match_info["id"], str(group), count))


async def periodic_force(request: web.Request) -> web.Response:
    ops = server_of(request).ops
    return written(ops.force_periodic(namespace(request), request.match_info["id"]))


async def dispatch(request: web.Request) -> web.Response:
    body = expect_object(await read_json(request) or {}, "body")
    meta = get_field(body, "Meta") or {}
    payload = get_field(body, "Payload") or ""
    ops = server_of(request).ops
    return written(
        ops.dispatch(
            namespace(request), request.match_info["id"], str(payload), expect_object(meta, "Meta")
        )
    )


async def revert(request: web.Request) -> web.Response:
    body = expect_object(await read_json(request), "body")
    version = int_field(body, "JobVersion")
    if version is None:
        raise APIError.bad_request("JobVersion must be specified")
    prior = int_field(body, "EnforcePriorVersion")
    ops = server_of(request).ops
    return written(ops.revert_job(namespace(request), request.match_info["id"], version, prior))


async def stable(request: web.Request) -> web.Response:
    body = expect_object(await read_json(request), "body")
    version = int_field(body, "JobVersion", 0) or 0
    ops = server_of(request).ops
    return written(
        ops.set_stable(
            namespace(request), request.match_info["id"], version, bool(get_field(body, "Stable"))
        )
    )

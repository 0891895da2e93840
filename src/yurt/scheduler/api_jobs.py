"""Nomad's jobs API: `/v1/jobs` (list, register, parse), `/v1/validate/job`, and every
`/v1/job/<id>[/<what>]` path, reads here and actions in `api_job_actions`.

A job ID may hold "/" (a periodic or dispatched child is "<parent>/periodic-<time>"), raw
or escaped as %2F. As Nomad's `JobSpecificRequest` does, the path's last words say what is
asked and everything before them is the ID: each `/<what>` route therefore comes before the
job's own, and `{id}` matches across "/". Any other method on a job path is Nomad's 405.
"""

from __future__ import annotations

from typing import Any, cast

from aiohttp import web

from yurt.api import routes
from yurt.api.casing import get_field
from yurt.api.errors import APIError
from yurt.api.http import expect_object, flag, json_response, read_json
from yurt.api.routes import Handler, Route
from yurt.scheduler import api_job_actions as act
from yurt.scheduler import api_services, jobspec_bridge
from yurt.scheduler import model as m
from yurt.scheduler import store as s
from yurt.scheduler.api_common import (
    Obj,
    blocking,
    in_namespace,
    index_headers,
    int_field,
    namespace,
    server_of,
    table_index,
    written,
)
from yurt.scheduler.api_views import job_summary, job_view
from yurt.scheduler.job_keys import normalize_job_keys
from yurt.scheduler.jobdiff import job_diff
from yurt.scheduler.structs import Job

JOB = "/v1/job/{id:.+}"


async def list_jobs(request: web.Request) -> web.Response:
    srv = server_of(request)
    prefix = request.query.get("prefix", "")
    meta = flag(request, "meta")

    def run() -> tuple[Any, int]:
        jobs = [
            j for j in srv.store.jobs() if j["ID"].startswith(prefix) and in_namespace(request, j)
        ]
        jobs.sort(key=lambda j: (j["ID"], j["Namespace"]))
        out = [m.job_stub(job_view(srv, job), job_summary(srv, job), meta=meta) for job in jobs]
        return out, table_index(request, s.JOB, s.ALLOC, s.EVAL)

    return await blocking(request, [s.JOB, s.ALLOC, s.EVAL], run)


async def _register(request: web.Request, path_id: str | None) -> web.Response:
    body = expect_object(await read_json(request), "body")
    job = get_field(body, "Job")
    if job is None:
        raise APIError.bad_request("Job must be specified")
    job = normalize_job_keys(expect_object(job, "Job"))
    if path_id is not None and job.get("ID") != path_id:
        raise APIError.bad_request("Job ID does not match name")
    job = jobspec_bridge.canonicalize(job)
    errors, warnings = jobspec_bridge.validate(job)
    if errors:
        raise APIError.bad_request(errors)
    submission = get_field(body, "Submission")
    result = server_of(request).ops.register_job(
        cast(Job, job),  # canonical and validated: a Job from here on
        enforce_index=bool(get_field(body, "EnforceIndex")),
        job_modify_index=int_field(body, "JobModifyIndex", 0) or 0,
        preserve_counts=bool(get_field(body, "PreserveCounts")),
        submission=submission if isinstance(submission, dict) else None,
    )
    if warnings:
        result["Warnings"] = "\n".join(warnings)
    return written(result)


async def register_jobs(request: web.Request) -> web.Response:
    return await _register(request, None)


async def register_job(request: web.Request) -> web.Response:
    return await _register(request, request.match_info["id"])


async def deregister_job(request: web.Request) -> web.Response:
    ops = server_of(request).ops
    return written(
        ops.deregister_job(
            namespace(request), request.match_info["id"], purge=flag(request, "purge")
        )
    )


async def parse_job(request: web.Request) -> web.Response:
    body = await read_json(request)
    return json_response(await jobspec_bridge.parse_request(body))


async def validate_job(request: web.Request) -> web.Response:
    body = await read_json(request)
    return json_response(await jobspec_bridge.validate_request(body))


async def invalid_method(request: web.Request) -> web.Response:
    raise APIError(405, f"Invalid method {request.method} for {request.rel_url.raw_path}")


# reads of one job ---------------------------------------------------------------------


async def get_job(request: web.Request) -> web.Response:
    srv = server_of(request)
    ns, job_id = namespace(request), request.match_info["id"]

    def run() -> tuple[Any, int]:
        job = srv.ops.job_or_404(ns, job_id)
        return job_view(srv, job), job["ModifyIndex"]

    return await blocking(request, [f"{s.JOB}:{s.job_key(ns, job_id)}", s.JOB], run)


async def job_allocs(request: web.Request) -> web.Response:
    store = server_of(request).store
    ns, job_id = namespace(request), request.match_info["id"]
    show_all = flag(request, "all")

    def run() -> tuple[Any, int]:
        allocs = store.allocs_for_job(ns, job_id)
        job = store.job(ns, job_id)
        if not show_all and job is not None:
            # Without ?all, allocations of an earlier job of the same ID are not shown.
            allocs = [a for a in allocs if a.get("CreateIndex", 0) >= job.get("CreateIndex", 0)]
        allocs.sort(key=lambda a: -a["CreateIndex"])
        index = max([a["ModifyIndex"] for a in allocs], default=store.table_index[s.ALLOC])
        return [m.alloc_stub(a) for a in allocs], index

    return await blocking(request, [s.ALLOC], run)


async def job_evals(request: web.Request) -> web.Response:
    store = server_of(request).store
    ns, job_id = namespace(request), request.match_info["id"]

    def run() -> tuple[Any, int]:
        evals = sorted(store.evals_for_job(ns, job_id), key=lambda e: -e["CreateIndex"])
        return [m.eval_view(e) for e in evals], store.table_index[s.EVAL]

    return await blocking(request, [s.EVAL], run)


async def job_versions(request: web.Request) -> web.Response:
    srv = server_of(request)
    ns, job_id = namespace(request), request.match_info["id"]
    diffs = flag(request, "diffs")

    def run() -> tuple[Any, int]:
        srv.ops.job_or_404(ns, job_id)
        versions = srv.store.job_versions(ns, job_id)
        out: Obj = {
            "Versions": [job_view(srv, v) | {"Status": v.get("Status")} for v in versions],
            "Diffs": None,
        }
        if diffs and len(versions) > 1:
            typed = versions
            out["Diffs"] = [job_diff(typed[i + 1], typed[i], {}) for i in range(len(typed) - 1)]
        return out, srv.store.table_index[s.JOB_VERSION]

    return await blocking(request, [s.JOB], run)


async def get_job_summary(request: web.Request) -> web.Response:
    srv = server_of(request)
    ns, job_id = namespace(request), request.match_info["id"]

    def run() -> tuple[Any, int]:
        summary = job_summary(srv, srv.ops.job_or_404(ns, job_id))
        return summary, summary["ModifyIndex"]

    return await blocking(request, [s.JOB, s.ALLOC, s.EVAL], run)


async def job_deployments(request: web.Request) -> web.Response:
    store = server_of(request).store
    ns, job_id = namespace(request), request.match_info["id"]

    def run() -> tuple[Any, int]:
        deps = sorted(store.deployments_for_job(ns, job_id), key=lambda d: -d["CreateIndex"])
        return [dict(d) for d in deps], store.table_index[s.DEPLOYMENT]

    return await blocking(request, [s.DEPLOYMENT], run)


async def job_latest_deployment(request: web.Request) -> web.Response:
    store = server_of(request).store
    ns, job_id = namespace(request), request.match_info["id"]

    def run() -> tuple[Any, int]:
        deps = store.deployments_for_job(ns, job_id)
        if not deps:
            return None, store.table_index[s.DEPLOYMENT]
        latest = max(deps, key=lambda d: d["CreateIndex"])
        return dict(latest), latest["ModifyIndex"]

    return await blocking(request, [s.DEPLOYMENT], run)


async def job_submission(request: web.Request) -> web.Response:
    srv = server_of(request)
    ns, job_id = namespace(request), request.match_info["id"]
    job = srv.ops.job_or_404(ns, job_id)
    version = int(request.query.get("version", job["Version"]))
    sub = srv.store.tables[s.SUBMISSION].get(s.version_key(ns, job_id, version))
    if sub is None:
        raise APIError.not_found("job source not found")
    return json_response(sub, headers=index_headers(srv.store.index))


async def job_scale_status(request: web.Request) -> web.Response:
    srv = server_of(request)
    ns, job_id = namespace(request), request.match_info["id"]
    job = srv.ops.job_or_404(ns, job_id)
    allocs = srv.store.allocs_for_job(ns, job_id)
    groups: Obj = {}
    for tg in job.get("TaskGroups") or []:
        mine = [a for a in allocs if a["TaskGroup"] == tg["Name"] and not m.alloc_is_terminal(a)]
        health = [(a.get("DeploymentStatus") or {}).get("Healthy") for a in mine]
        groups[tg["Name"]] = {
            "Desired": tg.get("Count"),
            "Placed": len(mine),
            "Running": sum(1 for a in mine if a.get("ClientStatus") == m.ALLOC_RUNNING),
            "Healthy": sum(1 for h in health if h),
            "Unhealthy": sum(1 for h in health if h is False),
            "Events": None,
        }
    out = {
        "JobID": job_id,
        "Namespace": ns,
        "JobCreateIndex": job["CreateIndex"],
        "JobModifyIndex": job["JobModifyIndex"],
        "JobStopped": bool(job.get("Stop")),
        "TaskGroups": groups,
    }
    return json_response(out, headers=index_headers(job["ModifyIndex"]))


# the table ----------------------------------------------------------------------------


def job_path(
    what: str,
    *,
    get: Handler | None = None,
    write: Handler | None = None,
    delete: Handler | None = None,
) -> list[Route]:
    """The routes of `/v1/job/<id>/<what>` (`what` "" for the job itself), then Nomad's
    405 "Invalid method" for every method not declared."""
    path = f"{JOB}/{what}" if what else JOB
    declared = [
        make(path, handler)
        for make, handler in ((routes.get, get), (routes.write, write), (routes.delete, delete))
        if handler is not None
    ]
    return [*declared, routes.any_method(path, invalid_method)]


ROUTES: list[Route] = [
    routes.get("/v1/jobs", list_jobs),
    routes.write("/v1/jobs", register_jobs),
    routes.write("/v1/jobs/parse", parse_job),
    routes.write("/v1/validate/job", validate_job),
    *job_path("allocations", get=job_allocs),
    *job_path("evaluations", get=job_evals),
    *job_path("versions", get=job_versions),
    *job_path("summary", get=get_job_summary),
    *job_path("deployments", get=job_deployments),
    *job_path("deployment", get=job_latest_deployment),
    *job_path("submission", get=job_submission),
    *job_path("services", get=api_services.job_services),
    *job_path("scale", get=job_scale_status, write=act.scale),
    *job_path("plan", write=act.plan),
    *job_path("evaluate", write=act.evaluate),
    *job_path("periodic/force", write=act.periodic_force),
    *job_path("dispatch", write=act.dispatch),
    *job_path("revert", write=act.revert),
    *job_path("stable", write=act.stable),
    # last: the job itself, whose ID may end in any of the words above once escaped
    *job_path("", get=get_job, write=register_job, delete=deregister_job),
]


def add_routes(router: web.UrlDispatcher) -> None:
    routes.add_routes(router, ROUTES)

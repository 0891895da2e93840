"""Nomad's HTTP API (and yurt's internal client protocol) over the scheduler's state.

The aiohttp Application is built here and only here; `/ui/` is left free for the web UI.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import aiohttp
from aiohttp import web

from yurt.api.blocking import BlockingQuery, blocking_query
from yurt.api.casing import get_field
from yurt.api.durations import duration_from_json
from yurt.api.errors import APIError
from yurt.api.http import error_middleware, expect_object, flag, json_response, read_json
from yurt.scheduler import jobspec_bridge
from yurt.scheduler import model as m
from yurt.scheduler import store as s
from yurt.scheduler import ui as scheduler_ui
from yurt.scheduler.acl_api import add_acl_routes
from yurt.scheduler.acl_enforce import Enforcer, acl_middleware
from yurt.scheduler.job_keys import normalize_job_keys
from yurt.scheduler.jobdiff import job_diff
from yurt.scheduler.metrics import metrics_json, metrics_prometheus

if TYPE_CHECKING:
    from yurt.scheduler.server import SchedulerServer

Obj = dict[str, Any]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

PROTOCOL_VERSION = 1
SERVER_KEY: web.AppKey[SchedulerServer] = web.AppKey("scheduler", object)  # type: ignore[arg-type]

_JOB_SUFFIXES = {
    "allocations",
    "evaluations",
    "versions",
    "summary",
    "deployments",
    "deployment",
    "plan",
    "evaluate",
    "scale",
    "dispatch",
    "revert",
    "stable",
    "submission",
}


def build_app(server: SchedulerServer) -> web.Application:
    middlewares = [error_middleware]
    if server.config.acl_enabled:
        middlewares.append(acl_middleware(Enforcer(server.acl, server.store, _JOB_SUFFIXES)))
    app = web.Application(middlewares=middlewares, client_max_size=64 * 1024 * 1024)
    api = _API(server)
    r = app.router
    add_acl_routes(app, server.acl, server.config.acl_enabled)
    r.add_get("/v1/jobs", api.list_jobs)
    r.add_route("PUT", "/v1/jobs", api.register_jobs)
    r.add_route("POST", "/v1/jobs", api.register_jobs)
    r.add_route("POST", "/v1/jobs/parse", api.parse_job)
    r.add_route("PUT", "/v1/jobs/parse", api.parse_job)
    r.add_route("PUT", "/v1/validate/job", api.validate_job)
    r.add_route("POST", "/v1/validate/job", api.validate_job)
    r.add_route("*", "/v1/job/{tail:.+}", api.job_dispatch)
    r.add_get("/v1/allocations", api.list_allocs)
    r.add_get("/v1/allocation/{id}", api.get_alloc)
    r.add_route("POST", "/v1/allocation/{id}/stop", api.stop_alloc)
    r.add_route("PUT", "/v1/allocation/{id}/stop", api.stop_alloc)
    r.add_get("/v1/evaluations", api.list_evals)
    r.add_get("/v1/evaluation/{id}", api.get_eval)
    r.add_get("/v1/evaluation/{id}/allocations", api.eval_allocs)
    r.add_get("/v1/deployments", api.list_deployments)
    r.add_get("/v1/deployment/{id}", api.get_deployment)
    r.add_get("/v1/deployment/allocations/{id}", api.deployment_allocs)
    r.add_route("POST", "/v1/deployment/fail/{id}", api.fail_deployment)
    r.add_route("PUT", "/v1/deployment/fail/{id}", api.fail_deployment)
    r.add_route("POST", "/v1/deployment/promote/{id}", api.promote_deployment)
    r.add_route("PUT", "/v1/deployment/promote/{id}", api.promote_deployment)
    r.add_route("POST", "/v1/deployment/pause/{id}", api.pause_deployment)
    r.add_route("PUT", "/v1/deployment/pause/{id}", api.pause_deployment)
    r.add_get("/v1/nodes", api.list_nodes)
    r.add_get("/v1/node/{id}", api.get_node)
    r.add_get("/v1/node/{id}/allocations", api.node_allocs)
    r.add_route("POST", "/v1/node/{id}/drain", api.drain_node)
    r.add_route("PUT", "/v1/node/{id}/drain", api.drain_node)
    r.add_route("POST", "/v1/node/{id}/eligibility", api.node_eligibility)
    r.add_route("PUT", "/v1/node/{id}/eligibility", api.node_eligibility)
    r.add_route("POST", "/v1/node/{id}/evaluate", api.node_evaluate)
    r.add_route("PUT", "/v1/node/{id}/evaluate", api.node_evaluate)
    r.add_get("/v1/agent/self", api.agent_self)
    r.add_get("/v1/agent/members", api.agent_members)
    r.add_get("/v1/agent/health", api.agent_health)
    r.add_get("/v1/agent/servers", api.agent_servers)
    r.add_get("/v1/status/leader", api.status_leader)
    r.add_get("/v1/status/peers", api.status_peers)
    r.add_get("/v1/regions", api.regions)
    r.add_get("/v1/metrics", api.metrics)
    r.add_get("/v1/operator/scheduler/configuration", api.get_scheduler_config)
    r.add_route("PUT", "/v1/operator/scheduler/configuration", api.set_scheduler_config)
    r.add_route("POST", "/v1/operator/scheduler/configuration", api.set_scheduler_config)
    r.add_route("PUT", "/v1/internal/node/register", api.internal_register)
    r.add_route("PUT", "/v1/internal/node/{id}/heartbeat", api.internal_heartbeat)
    r.add_get("/v1/internal/node/{id}/allocations", api.internal_allocs)
    r.add_route("PUT", "/v1/internal/node/{id}/allocations", api.internal_update_allocs)
    r.add_route("PUT", "/v1/system/gc", api.system_gc)
    r.add_route("POST", "/v1/system/gc", api.system_gc)
    r.add_route("PUT", "/v1/system/reconcile/summaries", api.reconcile_summaries)
    r.add_route("POST", "/v1/system/reconcile/summaries", api.reconcile_summaries)
    r.add_route("POST", "/v1/search", api.search)
    r.add_route("PUT", "/v1/search", api.search)
    r.add_route("*", "/v1/client/{tail:.*}", api.forward_client)
    app[SERVER_KEY] = server
    scheduler_ui.add_routes(app)
    return app


def _headers(index: int) -> dict[str, str]:
    return {
        "X-Nomad-Index": str(max(index, 1)),
        "X-Nomad-KnownLeader": "true",
        "X-Nomad-LastContact": "0",
    }


def _ns(request: web.Request) -> str:
    return request.query.get("namespace") or m.DEFAULT_NAMESPACE


def _matches_ns(request: web.Request, obj: Obj) -> bool:
    wanted = request.query.get("namespace") or m.DEFAULT_NAMESPACE
    return wanted == "*" or obj.get("Namespace", m.DEFAULT_NAMESPACE) == wanted


def _int_field(body: Obj, name: str, default: int | None = None) -> int | None:
    value = get_field(body, name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise APIError.bad_request(f"{name}: expected an integer, got {value!r}")
    try:
        return int(value)
    except ValueError:
        raise APIError.bad_request(f"{name}: expected an integer, got {value!r}") from None


class _API:
    def __init__(self, server: SchedulerServer) -> None:
        self.server = server
        self.store = server.store
        self.ops = server.ops

    async def _blocking(
        self,
        request: web.Request,
        topics: list[str],
        run: Callable[[], tuple[Any, int]],
    ) -> web.Response:
        query = BlockingQuery.from_query(request.query)
        result, index = await blocking_query(self.store.hub, topics, query, run)
        return json_response(result, headers=_headers(index), pretty=flag(request, "pretty"))

    def _idx(self, *kinds: str) -> int:
        return max(self.store.table_index[k] for k in kinds)

    def _lookup(self, kind: str, ident: str, what: str) -> Obj:
        table = self.store.tables[kind]
        obj = table.get(ident)
        if obj is not None:
            return obj
        if len(ident) >= 1 and len(ident) < 36:
            found = [v for k, v in table.items() if k.startswith(ident)]
            if len(found) == 1:
                return found[0]
        raise APIError.not_found(f"{what} not found")

    # views ----------------------------------------------------------------------------

    def job_view(self, job: Obj) -> Obj:
        out = dict(job)
        out["Status"] = self.ops.job_status(job)
        return out

    def summary(self, job: Obj) -> Obj:
        ns, jid = job["Namespace"], job["ID"]
        children = (
            [self.job_view(j) for j in self.store.jobs() if j.get("ParentID") == jid]
            if job.get("Periodic") or job.get("ParameterizedJob")
            else []
        )
        return m.job_summary(
            job, self.store.allocs_for_job(ns, jid), self.store.evals_for_job(ns, jid), children
        )

    def alloc_view(self, alloc: Obj) -> Obj:
        out = dict(alloc)
        job = self.store.job_version(alloc["Namespace"], alloc["JobID"], alloc.get("JobVersion", 0))
        if job is None:
            job = self.store.job(alloc["Namespace"], alloc["JobID"])
        out["Job"] = job
        return out

    def deployment_view(self, dep: Obj) -> Obj:
        return dict(dep)

    # jobs -----------------------------------------------------------------------------

    async def list_jobs(self, request: web.Request) -> web.Response:
        prefix = request.query.get("prefix", "")
        meta = flag(request, "meta")

        def run() -> tuple[Any, int]:
            jobs = [
                j
                for j in self.store.jobs()
                if j["ID"].startswith(prefix) and _matches_ns(request, j)
            ]
            jobs.sort(key=lambda j: (j["ID"], j["Namespace"]))
            out = []
            for job in jobs:
                view = self.job_view(job)
                out.append(m.job_stub(view, self.summary(job), meta=meta))
            return out, self._idx(s.JOB, s.ALLOC, s.EVAL)

        return await self._blocking(request, [s.JOB, s.ALLOC, s.EVAL], run)

    async def _register(self, request: web.Request, path_id: str | None) -> web.Response:
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
        result = self.ops.register_job(
            job,
            enforce_index=bool(get_field(body, "EnforceIndex")),
            job_modify_index=_int_field(body, "JobModifyIndex", 0) or 0,
            preserve_counts=bool(get_field(body, "PreserveCounts")),
            submission=submission if isinstance(submission, dict) else None,
        )
        if warnings:
            result["Warnings"] = "\n".join(warnings)
        return json_response(result, headers=_headers(result["Index"]))

    async def register_jobs(self, request: web.Request) -> web.Response:
        return await self._register(request, None)

    async def parse_job(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        return json_response(await jobspec_bridge.parse_request(body))

    async def validate_job(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        return json_response(await jobspec_bridge.validate_request(body))

    async def job_dispatch(self, request: web.Request) -> web.StreamResponse:
        raw = request.rel_url.raw_path[len("/v1/job/") :]
        parts = raw.split("/")
        suffix = ""
        if len(parts) >= 3 and parts[-2:] == ["periodic", "force"]:
            suffix = "periodic/force"
            parts = parts[:-2]
        elif len(parts) >= 2 and parts[-1] in _JOB_SUFFIXES:
            suffix = parts[-1]
            parts = parts[:-1]
        job_id = unquote("/".join(parts))
        method = request.method
        ns = _ns(request)
        if suffix == "":
            if method == "GET":
                return await self.get_job(request, ns, job_id)
            if method in ("POST", "PUT"):
                return await self._register(request, job_id)
            if method == "DELETE":
                result = self.ops.deregister_job(ns, job_id, purge=flag(request, "purge"))
                return json_response(result, headers=_headers(result["Index"]))
        handlers: dict[
            tuple[str, str], Callable[[web.Request, str, str], Awaitable[web.StreamResponse]]
        ] = {
            ("GET", "allocations"): self.job_allocs,
            ("GET", "evaluations"): self.job_evals,
            ("GET", "versions"): self.job_versions,
            ("GET", "summary"): self.job_summary,
            ("GET", "deployments"): self.job_deployments,
            ("GET", "deployment"): self.job_latest_deployment,
            ("GET", "submission"): self.job_submission,
            ("GET", "scale"): self.job_scale_status,
            ("POST", "plan"): self.job_plan,
            ("PUT", "plan"): self.job_plan,
            ("POST", "evaluate"): self.job_evaluate,
            ("PUT", "evaluate"): self.job_evaluate,
            ("POST", "scale"): self.job_scale,
            ("PUT", "scale"): self.job_scale,
            ("POST", "periodic/force"): self.job_periodic_force,
            ("PUT", "periodic/force"): self.job_periodic_force,
            ("POST", "dispatch"): self.job_dispatch_child,
            ("PUT", "dispatch"): self.job_dispatch_child,
            ("POST", "revert"): self.job_revert,
            ("PUT", "revert"): self.job_revert,
            ("POST", "stable"): self.job_stable,
            ("PUT", "stable"): self.job_stable,
        }
        handler = handlers.get((method, suffix))
        if handler is None:
            raise APIError(405, f"Invalid method {method} for /v1/job/{raw}")
        return await handler(request, ns, job_id)

    async def get_job(self, request: web.Request, ns: str, job_id: str) -> web.Response:
        def run() -> tuple[Any, int]:
            job = self.ops.job_or_404(ns, job_id)
            return self.job_view(job), job["ModifyIndex"]

        return await self._blocking(request, [f"{s.JOB}:{s.job_key(ns, job_id)}", s.JOB], run)

    async def job_allocs(self, request: web.Request, ns: str, job_id: str) -> web.Response:
        show_all = flag(request, "all")

        def run() -> tuple[Any, int]:
            allocs = self.store.allocs_for_job(ns, job_id)
            job = self.store.job(ns, job_id)
            if not show_all and job is not None:
                allocs = [a for a in allocs if a.get("CreateIndex", 0) >= job.get("CreateIndex", 0)]
            allocs.sort(key=lambda a: -a["CreateIndex"])
            index = max([a["ModifyIndex"] for a in allocs], default=self.store.table_index[s.ALLOC])
            return [m.alloc_stub(a) for a in allocs], index

        return await self._blocking(request, [s.ALLOC], run)

    async def job_evals(self, request: web.Request, ns: str, job_id: str) -> web.Response:
        def run() -> tuple[Any, int]:
            evals = sorted(self.store.evals_for_job(ns, job_id), key=lambda e: -e["CreateIndex"])
            return [m.eval_view(e) for e in evals], self.store.table_index[s.EVAL]

        return await self._blocking(request, [s.EVAL], run)

    async def job_versions(self, request: web.Request, ns: str, job_id: str) -> web.Response:
        diffs = flag(request, "diffs")

        def run() -> tuple[Any, int]:
            self.ops.job_or_404(ns, job_id)
            versions = self.store.job_versions(ns, job_id)
            out: Obj = {
                "Versions": [self.job_view(v) | {"Status": v.get("Status")} for v in versions],
                "Diffs": None,
            }
            if diffs and len(versions) > 1:
                out["Diffs"] = [
                    job_diff(versions[i + 1], versions[i], {}) for i in range(len(versions) - 1)
                ]
            return out, self.store.table_index[s.JOB_VERSION]

        return await self._blocking(request, [s.JOB], run)

    async def job_summary(self, request: web.Request, ns: str, job_id: str) -> web.Response:
        def run() -> tuple[Any, int]:
            job = self.ops.job_or_404(ns, job_id)
            summary = self.summary(job)
            return summary, summary["ModifyIndex"]

        return await self._blocking(request, [s.JOB, s.ALLOC, s.EVAL], run)

    async def job_deployments(self, request: web.Request, ns: str, job_id: str) -> web.Response:
        def run() -> tuple[Any, int]:
            deps = sorted(
                self.store.deployments_for_job(ns, job_id), key=lambda d: -d["CreateIndex"]
            )
            return [self.deployment_view(d) for d in deps], self.store.table_index[s.DEPLOYMENT]

        return await self._blocking(request, [s.DEPLOYMENT], run)

    async def job_latest_deployment(
        self, request: web.Request, ns: str, job_id: str
    ) -> web.Response:
        def run() -> tuple[Any, int]:
            deps = self.store.deployments_for_job(ns, job_id)
            if not deps:
                return None, self.store.table_index[s.DEPLOYMENT]
            latest = max(deps, key=lambda d: d["CreateIndex"])
            return self.deployment_view(latest), latest["ModifyIndex"]

        return await self._blocking(request, [s.DEPLOYMENT], run)

    async def job_submission(self, request: web.Request, ns: str, job_id: str) -> web.Response:
        job = self.ops.job_or_404(ns, job_id)
        version = int(request.query.get("version", job["Version"]))
        sub = self.store.tables[s.SUBMISSION].get(s.version_key(ns, job_id, version))
        if sub is None:
            raise APIError.not_found("job source not found")
        return json_response(sub, headers=_headers(self.store.index))

    async def job_scale_status(self, request: web.Request, ns: str, job_id: str) -> web.Response:
        job = self.ops.job_or_404(ns, job_id)
        groups: Obj = {}
        allocs = self.store.allocs_for_job(ns, job_id)
        for tg in job.get("TaskGroups") or []:
            mine = [
                a for a in allocs if a["TaskGroup"] == tg["Name"] and not m.alloc_is_terminal(a)
            ]
            groups[tg["Name"]] = {
                "Desired": tg.get("Count"),
                "Placed": len(mine),
                "Running": sum(1 for a in mine if a.get("ClientStatus") == m.ALLOC_RUNNING),
                "Healthy": sum(1 for a in mine if (a.get("DeploymentStatus") or {}).get("Healthy")),
                "Unhealthy": sum(
                    1 for a in mine if (a.get("DeploymentStatus") or {}).get("Healthy") is False
                ),
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
        return json_response(out, headers=_headers(job["ModifyIndex"]))

    async def job_plan(self, request: web.Request, ns: str, job_id: str) -> web.Response:
        body = expect_object(await read_json(request), "body")
        job = normalize_job_keys(expect_object(get_field(body, "Job"), "Job"))
        if job.get("ID") != job_id:
            raise APIError.bad_request("Job ID does not match")
        job = jobspec_bridge.canonicalize(job)
        errors, warnings = jobspec_bridge.validate(job)
        if errors:
            raise APIError.bad_request(errors)
        job.setdefault("Namespace", ns)
        existing = self.store.job(job["Namespace"], job_id)
        _, plan = self.ops.plan_job(job)
        diff = None
        if get_field(body, "Diff"):
            diff = job_diff(existing, job, plan.desired, bool(get_field(body, "Contextual")))
        next_launch = None
        if job.get("Periodic"):
            due = [when for j, when in self.ops.periodic_due(_utcnow()) if j["ID"] == job_id]
            if not due:
                from yurt.scheduler.cron import Cron, CronError

                try:
                    nxt = Cron(str(job["Periodic"].get("Spec") or "")).next_after(_utcnow())
                except CronError:
                    nxt = None
                due = [nxt] if nxt else []
            if due:
                next_launch = due[0].strftime("%Y-%m-%dT%H:%M:%SZ")
        out = {
            "Annotations": {"DesiredTGUpdates": plan.desired, "PreemptedAllocs": None},
            "FailedTGAllocs": plan.failed_tg or None,
            "JobModifyIndex": existing["JobModifyIndex"] if existing else 0,
            "CreatedEvals": None,
            "Diff": diff,
            "NextPeriodicLaunch": next_launch or "0001-01-01T00:00:00Z",
            "Warnings": "\n".join(warnings),
            "Index": self.store.index,
        }
        return json_response(out, headers=_headers(self.store.index))

    async def job_evaluate(self, request: web.Request, ns: str, job_id: str) -> web.Response:
        body = await read_json(request) or {}
        options = get_field(expect_object(body, "body"), "EvalOptions") or {}
        force = bool(get_field(expect_object(options, "EvalOptions"), "ForceReschedule"))
        result = self.ops.evaluate_job(ns, job_id, force_reschedule=force)
        return json_response(result, headers=_headers(result["Index"]))

    async def job_scale(self, request: web.Request, ns: str, job_id: str) -> web.Response:
        body = expect_object(await read_json(request), "body")
        target = get_field(body, "Target") or {}
        group = get_field(target, "Group") if isinstance(target, dict) else None
        if not group:
            raise APIError.bad_request("missing task group name")
        count = _int_field(body, "Count")
        result = self.ops.scale_job(ns, job_id, str(group), count)
        return json_response(result, headers=_headers(result["Index"]))

    async def job_periodic_force(self, request: web.Request, ns: str, job_id: str) -> web.Response:
        result = self.ops.force_periodic(ns, job_id)
        return json_response(result, headers=_headers(result["Index"]))

    async def job_dispatch_child(self, request: web.Request, ns: str, job_id: str) -> web.Response:
        body = await read_json(request) or {}
        body = expect_object(body, "body")
        meta = get_field(body, "Meta") or {}
        payload = get_field(body, "Payload") or ""
        result = self.ops.dispatch(ns, job_id, str(payload), expect_object(meta, "Meta"))
        return json_response(result, headers=_headers(result["Index"]))

    async def job_revert(self, request: web.Request, ns: str, job_id: str) -> web.Response:
        body = expect_object(await read_json(request), "body")
        version = _int_field(body, "JobVersion")
        if version is None:
            raise APIError.bad_request("JobVersion must be specified")
        prior = _int_field(body, "EnforcePriorVersion")
        result = self.ops.revert_job(ns, job_id, version, prior)
        return json_response(result, headers=_headers(result["Index"]))

    async def job_stable(self, request: web.Request, ns: str, job_id: str) -> web.Response:
        body = expect_object(await read_json(request), "body")
        version = _int_field(body, "JobVersion", 0) or 0
        result = self.ops.set_stable(ns, job_id, version, bool(get_field(body, "Stable")))
        return json_response(result, headers=_headers(result["Index"]))

    # allocations and evaluations ------------------------------------------------------

    async def list_allocs(self, request: web.Request) -> web.Response:
        prefix = request.query.get("prefix", "")
        resources = flag(request, "resources")

        def run() -> tuple[Any, int]:
            allocs = [
                a
                for a in self.store.tables[s.ALLOC].values()
                if a["ID"].startswith(prefix) and _matches_ns(request, a)
            ]
            allocs.sort(key=lambda a: -a["CreateIndex"])
            return [m.alloc_stub(a, resources=resources) for a in allocs], self._idx(s.ALLOC)

        return await self._blocking(request, [s.ALLOC], run)

    async def get_alloc(self, request: web.Request) -> web.Response:
        ident = request.match_info["id"]

        def run() -> tuple[Any, int]:
            alloc = self._lookup(s.ALLOC, ident, "alloc")
            return self.alloc_view(alloc), alloc["ModifyIndex"]

        return await self._blocking(request, [s.ALLOC], run)

    async def stop_alloc(self, request: web.Request) -> web.Response:
        alloc = self._lookup(s.ALLOC, request.match_info["id"], "alloc")
        result = self.ops.stop_alloc(alloc)
        return json_response(result, headers=_headers(result["Index"]))

    async def list_evals(self, request: web.Request) -> web.Response:
        prefix = request.query.get("prefix", "")
        job_filter = request.query.get("job", "")
        status = request.query.get("status", "")

        def run() -> tuple[Any, int]:
            evals = [
                e
                for e in self.store.tables[s.EVAL].values()
                if e["ID"].startswith(prefix)
                and _matches_ns(request, e)
                and (not job_filter or e["JobID"] == job_filter)
                and (not status or e["Status"] == status)
            ]
            evals.sort(key=lambda e: -e["CreateIndex"])
            return [m.eval_view(e) for e in evals], self._idx(s.EVAL)

        return await self._blocking(request, [s.EVAL], run)

    async def get_eval(self, request: web.Request) -> web.Response:
        ident = request.match_info["id"]

        def run() -> tuple[Any, int]:
            ev = self._lookup(s.EVAL, ident, "eval")
            return m.eval_view(ev), ev["ModifyIndex"]

        return await self._blocking(request, [s.EVAL], run)

    async def eval_allocs(self, request: web.Request) -> web.Response:
        ident = request.match_info["id"]

        def run() -> tuple[Any, int]:
            allocs = [a for a in self.store.tables[s.ALLOC].values() if a["EvalID"] == ident]
            return [m.alloc_stub(a) for a in allocs], self._idx(s.ALLOC)

        return await self._blocking(request, [s.ALLOC], run)

    async def list_deployments(self, request: web.Request) -> web.Response:
        prefix = request.query.get("prefix", "")

        def run() -> tuple[Any, int]:
            deps = [
                d
                for d in self.store.tables[s.DEPLOYMENT].values()
                if d["ID"].startswith(prefix) and _matches_ns(request, d)
            ]
            deps.sort(key=lambda d: -d["CreateIndex"])
            return deps, self._idx(s.DEPLOYMENT)

        return await self._blocking(request, [s.DEPLOYMENT], run)

    async def get_deployment(self, request: web.Request) -> web.Response:
        ident = request.match_info["id"]

        def run() -> tuple[Any, int]:
            dep = self._lookup(s.DEPLOYMENT, ident, "deployment")
            return dep, dep["ModifyIndex"]

        return await self._blocking(request, [s.DEPLOYMENT], run)

    async def deployment_allocs(self, request: web.Request) -> web.Response:
        dep = self._lookup(s.DEPLOYMENT, request.match_info["id"], "deployment")
        allocs = [
            a
            for a in self.store.allocs_for_job(dep["Namespace"], dep["JobID"])
            if a.get("DeploymentID") == dep["ID"]
        ]
        return json_response(
            [m.alloc_stub(a) for a in allocs], headers=_headers(self.store.table_index[s.ALLOC])
        )

    async def fail_deployment(self, request: web.Request) -> web.Response:
        dep = self._lookup(s.DEPLOYMENT, request.match_info["id"], "deployment")
        if dep["Status"] != m.DEPLOY_RUNNING:
            raise APIError.bad_request(f"can't fail terminal deployment (status {dep['Status']})")
        result = self.ops.set_deployment_status(dep, m.DEPLOY_FAILED, "Deployment marked as failed")
        return json_response(result, headers=_headers(result["Index"]))

    async def promote_deployment(self, request: web.Request) -> web.Response:
        dep = self._lookup(s.DEPLOYMENT, request.match_info["id"], "deployment")
        body = expect_object(await read_json(request) or {}, "body")
        groups = get_field(body, "Groups")
        if get_field(body, "All") or not groups:
            groups = None
        elif not isinstance(groups, list):
            raise APIError.bad_request("Groups: expected an array of task group names")
        result = self.ops.promote_deployment(dep, groups)
        return json_response(result, headers=_headers(result["Index"]))

    async def pause_deployment(self, request: web.Request) -> web.Response:
        dep = self._lookup(s.DEPLOYMENT, request.match_info["id"], "deployment")
        body = expect_object(await read_json(request) or {}, "body")
        result = self.ops.pause_deployment(dep, bool(get_field(body, "Pause")))
        return json_response(result, headers=_headers(result["Index"]))

    # nodes ----------------------------------------------------------------------------

    async def list_nodes(self, request: web.Request) -> web.Response:
        prefix = request.query.get("prefix", "")
        resources = flag(request, "resources")
        os_attr = flag(request, "os")

        def run() -> tuple[Any, int]:
            nodes = [n for n in self.store.tables[s.NODE].values() if n["ID"].startswith(prefix)]
            nodes.sort(key=lambda n: n["ID"])
            return (
                [m.node_stub(n, resources=resources, os_attr=os_attr) for n in nodes],
                self._idx(s.NODE),
            )

        return await self._blocking(request, [s.NODE], run)

    async def get_node(self, request: web.Request) -> web.Response:
        ident = request.match_info["id"]

        def run() -> tuple[Any, int]:
            node = self._lookup(s.NODE, ident, "node")
            return m.node_view(node), node["ModifyIndex"]

        return await self._blocking(request, [s.NODE], run)

    async def node_allocs(self, request: web.Request) -> web.Response:
        ident = request.match_info["id"]

        def run() -> tuple[Any, int]:
            node = self._lookup(s.NODE, ident, "node")
            allocs = sorted(self.store.allocs_for_node(node["ID"]), key=lambda a: -a["CreateIndex"])
            return [self.alloc_view(a) for a in allocs], self._idx(s.ALLOC)

        return await self._blocking(request, [s.ALLOC], run)

    async def drain_node(self, request: web.Request) -> web.Response:
        node = self._lookup(s.NODE, request.match_info["id"], "node")
        body = expect_object(await read_json(request) or {}, "body")
        spec = get_field(body, "DrainSpec")
        if spec is not None:
            spec = expect_object(spec, "DrainSpec")
            try:
                spec = {
                    "Deadline": duration_from_json(get_field(spec, "Deadline", 0), "Deadline"),
                    "IgnoreSystemJobs": bool(get_field(spec, "IgnoreSystemJobs")),
                }
            except ValueError as exc:
                raise APIError.bad_request(str(exc)) from None
        result = self.ops.drain(node, spec, bool(get_field(body, "MarkEligible")))
        return json_response(result, headers=_headers(result["Index"]))

    async def node_eligibility(self, request: web.Request) -> web.Response:
        node = self._lookup(s.NODE, request.match_info["id"], "node")
        body = expect_object(await read_json(request) or {}, "body")
        value = get_field(body, "Eligibility")
        if value not in ("eligible", "ineligible"):
            raise APIError.bad_request(
                f'invalid scheduling eligibility "{value}": expected "eligible" or "ineligible"'
            )
        result = self.ops.set_eligibility(node, value == "eligible")
        return json_response(result, headers=_headers(result["Index"]))

    async def node_evaluate(self, request: web.Request) -> web.Response:
        node = self._lookup(s.NODE, request.match_info["id"], "node")
        with self.store.write() as txn:
            evals = self.ops._node_evals(txn, node, include_system=True)
        self.ops._enqueue(evals)
        out = {
            "EvalIDs": [e["ID"] for e in evals] or None,
            "EvalCreateIndex": txn.index,
            "NodeModifyIndex": node["ModifyIndex"],
            "Index": txn.index,
        }
        return json_response(out, headers=_headers(txn.index))

    # agent and status -----------------------------------------------------------------

    def _member(self) -> Obj:
        cfg = self.server.config
        return {
            "Name": f"{cfg.node_name}.{cfg.region}",
            "Addr": cfg.http_host,
            "Port": cfg.http_port + 2 if cfg.http_port else 4648,
            "Tags": {
                "role": "nomad",
                "region": cfg.region,
                "dc": cfg.datacenter,
                "build": "1.7.7",
                "port": str(cfg.http_port + 1 if cfg.http_port else 4647),
                "bootstrap": "1",
                "expect": "1",
                "vsn": "1",
                "raft_vsn": "3",
                "id": self.server.server_id,
            },
            "Status": "alive",
            "ProtocolMin": 1,
            "ProtocolMax": 5,
            "ProtocolCur": 2,
            "DelegateMin": 2,
            "DelegateMax": 5,
            "DelegateCur": 4,
        }

    async def agent_self(self, request: web.Request) -> web.Response:
        cfg = self.server.config
        out = {
            "config": {
                "Region": cfg.region,
                "Datacenter": cfg.datacenter,
                "NodeName": cfg.node_name,
                "DataDir": str(cfg.data_dir),
                "BindAddr": cfg.http_host,
                "Ports": {
                    "HTTP": cfg.http_port,
                    "RPC": cfg.http_port + 1,
                    "Serf": cfg.http_port + 2,
                },
                "Addresses": {"HTTP": cfg.http_host, "RPC": cfg.http_host, "Serf": cfg.http_host},
                "Server": {"Enabled": True, "BootstrapExpect": 1},
                "Client": {"Enabled": False},
                "Consul": {
                    "Address": cfg.consul_addr or "",
                    "ServerServiceName": cfg.server_service_name,
                },
                "Version": {
                    "Version": "1.7.7",
                    "VersionPrerelease": "",
                    "VersionMetadata": "yurt",
                    "Revision": "",
                },
            },
            "member": self._member(),
            "stats": {
                "nomad": {
                    "server": "true",
                    "leader": "true",
                    "bootstrap": "true",
                    "known_regions": "1",
                    "leader_addr": self.server.rpc_addr,
                },
                "broker": {k: str(v) for k, v in self.server.broker.stats().items()},
                "runtime": {"arch": "amd64", "version": "python"},
            },
        }
        return json_response(out)

    async def agent_members(self, request: web.Request) -> web.Response:
        cfg = self.server.config
        out = {
            "ServerName": cfg.node_name,
            "ServerRegion": cfg.region,
            "ServerDC": cfg.datacenter,
            "Members": [self._member()],
        }
        return json_response(out)

    async def agent_health(self, request: web.Request) -> web.Response:
        kind = request.query.get("type", "")
        if kind == "client":
            return web.Response(
                status=400,
                text='{"client":{"ok":false,"message":"client not enabled"}}',
                content_type="application/json",
            )
        return json_response({"server": {"ok": True, "message": "ok"}})

    async def agent_servers(self, request: web.Request) -> web.Response:
        return json_response([self.server.rpc_addr])

    async def status_leader(self, request: web.Request) -> web.Response:
        return json_response(self.server.rpc_addr)

    async def status_peers(self, request: web.Request) -> web.Response:
        return json_response([self.server.rpc_addr])

    async def regions(self, request: web.Request) -> web.Response:
        return json_response([self.server.config.region])

    async def metrics(self, request: web.Request) -> web.Response:
        if request.query.get("format") == "prometheus":
            return web.Response(
                text=metrics_prometheus(self.server), content_type="text/plain", charset="utf-8"
            )
        return json_response(metrics_json(self.server))

    async def get_scheduler_config(self, request: web.Request) -> web.Response:
        conf = self.server.scheduler_config()
        return json_response(
            {
                "SchedulerConfig": conf,
                "Index": conf["ModifyIndex"],
                "KnownLeader": True,
                "LastContact": 0,
            },
            headers=_headers(conf["ModifyIndex"]),
        )

    async def set_scheduler_config(self, request: web.Request) -> web.Response:
        body = expect_object(await read_json(request), "body")
        algorithm = get_field(body, "SchedulerAlgorithm") or "binpack"
        if algorithm not in ("binpack", "spread"):
            raise APIError.bad_request(
                f'invalid scheduler algorithm "{algorithm}": expected "binpack" or "spread"'
            )
        index = self.server.set_scheduler_config(
            str(algorithm), bool(get_field(body, "PauseEvalBroker"))
        )
        return json_response({"Updated": True, "Index": index}, headers=_headers(index))

    async def system_gc(self, request: web.Request) -> web.Response:
        # Nomad answers before collecting; here the collection is done when the answer comes.
        self.server.collect_garbage(force=True)
        return web.Response(status=200)

    async def reconcile_summaries(self, request: web.Request) -> web.Response:
        # Job summaries are computed from the allocations on every read: always reconciled.
        return web.Response(status=200)

    async def search(self, request: web.Request) -> web.Response:
        body = expect_object(await read_json(request), "body")
        prefix = get_field(body, "Prefix")
        context = get_field(body, "Context") or "all"
        if not isinstance(prefix, str):
            raise APIError.bad_request("Prefix: expected a string")
        sources = {
            "jobs": [j["ID"] for j in self.store.jobs() if _matches_ns(request, j)],
            "evals": list(self.store.tables[s.EVAL]),
            "allocs": list(self.store.tables[s.ALLOC]),
            "nodes": list(self.store.tables[s.NODE]),
            "deployment": list(self.store.tables[s.DEPLOYMENT]),
        }
        if context != "all" and context not in sources:
            raise APIError.bad_request(f'Invalid context "{context}"')
        matches: Obj = {}
        truncations: Obj = {}
        for name, ids in sources.items():
            if context not in ("all", name):
                continue
            found = sorted(i for i in ids if i.startswith(prefix))
            matches[name] = found[:20]
            truncations[name] = len(found) > 20
        out = {
            "Matches": matches,
            "Truncations": truncations,
            "Index": self.store.index,
            "KnownLeader": True,
            "LastContact": 0,
        }
        return json_response(out, headers=_headers(self.store.index))

    # the internal client protocol ----------------------------------------------------

    def _node_auth(self, request: web.Request) -> Obj:
        node = self.store.tables[s.NODE].get(request.match_info["id"])
        if node is None:
            raise APIError.not_found("node not found")
        given = request.headers.get("X-Yurt-Node-Secret", "")
        if not hmac.compare_digest(given.encode(), str(node.get("SecretID") or "").encode()):
            raise APIError(403, "node secret does not match")
        return node

    async def internal_register(self, request: web.Request) -> web.Response:
        body = expect_object(await read_json(request), "body")
        version = get_field(body, "ProtocolVersion")
        if version != PROTOCOL_VERSION:
            raise APIError.bad_request(
                f"unsupported protocol version {version}; this server speaks {PROTOCOL_VERSION}"
            )
        node = expect_object(get_field(body, "Node"), "Node")
        for field in ("ID", "SecretID", "Datacenter"):
            if not isinstance(node.get(field), str) or not node.get(field):
                raise APIError.bad_request(f"Node.{field}: expected a non-empty string")
        node.setdefault("Name", node["ID"][:8])
        result = self.ops.register_node(node)
        return json_response(result, headers=_headers(result["Index"]))

    async def internal_heartbeat(self, request: web.Request) -> web.Response:
        node = self._node_auth(request)
        result = self.ops.heartbeat(node)
        return json_response({"HeartbeatTTL": result["HeartbeatTTL"]})

    async def internal_allocs(self, request: web.Request) -> web.Response:
        node = self._node_auth(request)
        node_id = node["ID"]

        def run() -> tuple[Any, int]:
            allocs = []
            index = 1
            for alloc in self.store.allocs_for_node(node_id):
                index = max(index, alloc["ModifyIndex"])
                if alloc.get("DesiredStatus") == m.ALLOC_DESIRED_RUN or not (
                    m.alloc_client_terminal(alloc)
                ):
                    allocs.append(self.alloc_view(alloc))
            allocs.sort(key=lambda a: a["CreateIndex"])
            return {"Index": index, "Allocs": allocs}, index

        return await self._blocking(request, [f"node-allocs:{node_id}"], run)

    async def internal_update_allocs(self, request: web.Request) -> web.Response:
        node = self._node_auth(request)
        body = expect_object(await read_json(request), "body")
        allocs = get_field(body, "Allocs")
        if not isinstance(allocs, list):
            raise APIError.bad_request("Allocs: expected an array of allocation updates")
        updates = [expect_object(a, f"Allocs[{i}]") for i, a in enumerate(allocs)]
        index = self.ops.client_update_allocs(node["ID"], updates)
        return json_response({"Index": index}, headers=_headers(index))

    # forwarding to the client that runs an allocation -------------------------------

    async def forward_client(self, request: web.Request) -> web.StreamResponse:
        tail = request.match_info["tail"]
        parts = tail.split("/")
        node_id = request.query.get("node_id", "")
        alloc_id = ""
        if len(parts) >= 3 and parts[0] == "fs":
            alloc_id = parts[2]
        elif len(parts) >= 2 and parts[0] == "allocation":
            alloc_id = parts[1]
        if alloc_id:
            alloc = self._lookup(s.ALLOC, alloc_id, "Unknown allocation")
            node_id = alloc["NodeID"]
        if not node_id:
            raise APIError.bad_request("missing node_id or allocation ID to route the request")
        node = self.store.tables[s.NODE].get(node_id)
        if node is None:
            raise APIError.not_found(f"Unknown node {node_id}")
        if node.get("Status") == m.NODE_DOWN:
            raise APIError(500, f"node {node_id} is down")
        addr = node.get("HTTPAddr") or ""
        if not addr:
            raise APIError(500, f"node {node_id} has no HTTP address")
        # A node that serves HTTPS says so in its registration (Nomad's Node.TLSEnabled).
        scheme = "https" if node.get("TLSEnabled") else "http"
        url = f"{scheme}://{addr}{request.rel_url}"
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await self._forward_websocket(request, url, node_id, addr)
        headers = {
            k: v
            for k, v in request.headers.items()
            if k.lower() not in ("host", "content-length", "transfer-encoding")
        }
        session = self.server.http_session()
        try:
            async with session.request(
                request.method,
                url,
                headers=headers,
                data=await request.read(),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=5),
            ) as upstream:
                resp = web.StreamResponse(status=upstream.status)
                for key in ("Content-Type", "X-Nomad-Index"):
                    if key in upstream.headers:
                        resp.headers[key] = upstream.headers[key]
                await resp.prepare(request)
                async for chunk in upstream.content.iter_any():
                    await resp.write(chunk)
                await resp.write_eof()
                return resp
        except (aiohttp.ClientError, OSError) as exc:
            raise APIError(500, f"node {node_id} at {addr} is unreachable: {exc}") from None

    async def _forward_websocket(
        self, request: web.Request, url: str, node_id: str, addr: str
    ) -> web.StreamResponse:
        """`alloc exec` through the server: one WebSocket each way, frames relayed as they come."""
        session = self.server.http_session()
        try:
            upstream = await session.ws_connect(
                url,
                timeout=aiohttp.ClientWSTimeout(ws_close=5),
                headers=_forwarded_auth(request),
            )
        except aiohttp.WSServerHandshakeError as exc:
            raise APIError(exc.status, exc.message) from None
        except (aiohttp.ClientError, OSError) as exc:
            raise APIError(500, f"node {node_id} at {addr} is unreachable: {exc}") from None
        downstream = web.WebSocketResponse()
        await downstream.prepare(request)

        async def relay(
            src: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
            dst: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
        ) -> None:
            async for msg in src:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    await dst.send_str(msg.data)
                elif msg.type == aiohttp.WSMsgType.BINARY:
                    await dst.send_bytes(msg.data)
                else:
                    break
            await dst.close()

        async with upstream:
            tasks = [
                asyncio.create_task(relay(downstream, upstream)),
                asyncio.create_task(relay(upstream, downstream)),
            ]
            try:
                await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                await downstream.close()
        return downstream


def _forwarded_auth(request: web.Request) -> dict[str, str]:
    """The caller's token, for the client to check as Nomad's client does."""
    return {
        k: v for k, v in request.headers.items() if k.lower() in ("x-nomad-token", "authorization")
    }


def _utcnow() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)

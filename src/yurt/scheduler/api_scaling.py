"""Nomad's scaling policies API: `/v1/scaling/policies` and `/v1/scaling/policy/<id>`, read
from the `scaling` blocks of the jobs' task groups (yurt keeps no table of its own).

A policy's ID is derived from its target (namespace, job, group, type), so it is the same on
every read and across job updates, as Nomad keeps a policy's ID while its target stays; its
CreateIndex is the job's, its ModifyIndex the job's last registration. A stopped job's
policies read as disabled, as Nomad disables them.
"""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from yurt.api import routes
from yurt.api.errors import APIError
from yurt.api.routes import Route
from yurt.scheduler import store as s
from yurt.scheduler.api_common import Obj, blocking, in_namespace, server_of, table_index
from yurt.scheduler.structs import Job, ScalingPolicy

_ID_SPACE = uuid.UUID("6c1f2a1e-3b7d-4e2a-9a55-0d8f5b8c9e21")


def policy_id(namespace: str, job_id: str, group: str, kind: str) -> str:
    return str(uuid.uuid5(_ID_SPACE, f"{namespace}\x00{job_id}\x00{group}\x00{kind}"))


def job_policies(job: Job) -> list[ScalingPolicy]:
    """The full policies of a job's groups, as Nomad's `GET /v1/scaling/policy/<id>`."""
    out: list[ScalingPolicy] = []
    for group in job.get("TaskGroups") or []:
        scaling = group.get("Scaling")
        if not scaling:
            continue
        kind = str(scaling.get("Type") or "horizontal")
        namespace = str(job.get("Namespace") or "default")
        out.append(
            {
                "ID": policy_id(namespace, job["ID"], group["Name"], kind),
                "Type": kind,
                "Target": {"Namespace": namespace, "Job": job["ID"], "Group": group["Name"]},
                "Policy": scaling.get("Policy"),
                "Min": scaling.get("Min"),
                "Max": scaling.get("Max"),
                "Enabled": bool(scaling.get("Enabled")) and not job.get("Stop"),
                "CreateIndex": job.get("CreateIndex", 0),
                "ModifyIndex": job.get("JobModifyIndex", job.get("ModifyIndex", 0)),
            }
        )
    return out


def stub(policy: ScalingPolicy) -> Obj:
    return {k: policy[k] for k in ("ID", "Type", "Target", "Enabled", "CreateIndex", "ModifyIndex")}


def select(policies: list[ScalingPolicy], job_id: str, kind: str) -> list[ScalingPolicy]:
    """Nomad's `?job=` (exact) and `?type=` (prefix) filters."""
    return [
        p
        for p in policies
        if (not job_id or p["Target"]["Job"] == job_id) and str(p["Type"]).startswith(kind)
    ]


async def list_policies(request: web.Request) -> web.Response:
    store = server_of(request).store
    job_id = request.query.get("job", "")
    kind = request.query.get("type", "")

    def run() -> tuple[Any, int]:
        found = [
            policy
            for job in store.jobs()
            if in_namespace(request, job)
            for policy in job_policies(job)
        ]
        found = select(found, job_id, kind)
        found.sort(key=lambda p: (p["Target"]["Namespace"], p["Target"]["Job"], p["ID"]))
        return [stub(p) for p in found], table_index(request, s.JOB)

    return await blocking(request, [s.JOB], run)


async def get_policy(request: web.Request) -> web.Response:
    store = server_of(request).store
    ident = request.match_info["id"]

    def run() -> tuple[Any, int]:
        for job in store.jobs():
            for policy in job_policies(job):
                if policy["ID"] == ident:
                    return policy, table_index(request, s.JOB)
        raise APIError.not_found("policy not found")

    return await blocking(request, [s.JOB], run)


ROUTES: list[Route] = [
    routes.get("/v1/scaling/policies", list_policies),
    routes.get("/v1/scaling/policy/{id}", get_policy),
]


def add_routes(router: web.UrlDispatcher) -> None:
    routes.add_routes(router, ROUTES)

"""`/v1/client/stats` (the host's) and `/v1/client/allocation/<id>/stats` (an allocation's
tasks'), in Nomad's `HostStats` and `AllocResourceUsage` shapes."""

from __future__ import annotations

import asyncio
import json
import time

from aiohttp import web

from yurt.api import routes
from yurt.api.errors import APIError
from yurt.api.http import json_response
from yurt.client.api_common import SAMPLER_KEY, Obj, agent_of, runner_of


async def host_stats(request: web.Request) -> web.Response:
    return json_response(request.app[SAMPLER_KEY].host(agent_of(request).config.data_dir))


async def alloc_stats(request: web.Request) -> web.Response:
    runner = runner_of(request)
    sampler = request.app[SAMPLER_KEY]
    tasks: Obj = {}
    now = time.time_ns()
    totals = {"rss": 0, "percent": 0.0, "system": 0.0, "user": 0.0}
    for name, tr in runner.tasks.items():
        pids = await asyncio.to_thread(tr.handle.pids) if tr.handle is not None else []
        usage = sampler.task_usage(f"{runner.id}/{name}", pids)
        tasks[name] = {"ResourceUsage": usage, "Timestamp": now, "Pids": None}
        totals["rss"] += usage["MemoryStats"]["RSS"]
        totals["percent"] += usage["CpuStats"]["Percent"]
        totals["system"] += usage["CpuStats"]["SystemMode"]
        totals["user"] += usage["CpuStats"]["UserMode"]
    if not tasks:
        raise APIError.not_found("no tasks")
    summary = json.loads(json.dumps(next(iter(tasks.values()))["ResourceUsage"]))
    summary["MemoryStats"]["RSS"] = summary["MemoryStats"]["Usage"] = totals["rss"]
    summary["CpuStats"]["Percent"] = totals["percent"]
    summary["CpuStats"]["SystemMode"] = totals["system"]
    summary["CpuStats"]["UserMode"] = totals["user"]
    return json_response({"ResourceUsage": summary, "Tasks": tasks, "Timestamp": now})


ROUTES = (
    routes.get("/v1/client/stats", host_stats),
    routes.get("/v1/client/allocation/{alloc}/stats", alloc_stats),
)

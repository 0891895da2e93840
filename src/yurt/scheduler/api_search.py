"""Nomad's fuzzy search, `POST /v1/search/fuzzy`: case-insensitive substring matches of a
text (at least 2 characters, Nomad's `min_term_length`) over jobs (and their groups,
services, tasks, images, commands and classes), allocations, nodes, namespaces and
variables, and ID-prefix matches over evaluations, deployments and scaling policies.

Nomad's rules: per context at most `limit_query` (20) objects are searched and
`limit_results` (100) matches kept, either limit setting the context's truncation flag;
matches sort by where the text occurs, then by length, then by name; each carries its
`Scope` (the namespace and the IDs of the objects above it). The matching is pure
(`fuzzy_search`); the handler gathers the objects the token may read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from yurt.api import routes
from yurt.api.casing import get_field
from yurt.api.errors import APIError
from yurt.api.http import expect_object, json_response, read_json
from yurt.api.routes import Route
from yurt.scheduler import acl_policy as p
from yurt.scheduler import store as s
from yurt.scheduler.acl_enforce import request_token
from yurt.scheduler.acl_state import denied
from yurt.scheduler.api_common import index_headers, server_of
from yurt.scheduler.api_scaling import job_policies

# The search answer, built field by field: free-form JSON.
Obj = dict[str, Any]
# An object of any searched kind (job, allocation, node, namespace, variable): the matchers
# read the few fields those kinds share, so one read-only mapping type serves them all.
Row = Mapping[str, Any]

LIMIT_QUERY = 20
LIMIT_RESULTS = 100
MIN_TERM_LENGTH = 2

ALLOCS, JOBS, NODES, NODE_POOLS, EVALS = "allocs", "jobs", "nodes", "node_pools", "evals"
DEPLOYMENT, PLUGINS, VOLUMES = "deployment", "plugins", "volumes"
SCALING, VARS, NAMESPACES = "scaling_policy", "vars", "namespaces"
# Nomad's contexts in its order (the order its error text lists them in)
CONTEXTS = (
    ALLOCS,
    JOBS,
    NODES,
    NODE_POOLS,
    EVALS,
    DEPLOYMENT,
    PLUGINS,
    VOLUMES,
    SCALING,
    VARS,
    NAMESPACES,
)
# contexts of UUIDs: matched by ID prefix, not fuzzily
PREFIX_CONTEXTS = frozenset({EVALS, DEPLOYMENT, SCALING, VOLUMES})
# fuzzy contexts the jobs context expands into
JOB_PARTS = ("jobs", "groups", "services", "tasks", "images", "commands", "classes")
_DRIVER_PARAM = {"docker": ("images", "image"), "exec": ("commands", "command")}
_DRIVER_PARAM |= {"raw_exec": ("commands", "command"), "java": ("classes", "class")}


@dataclass(frozen=True, slots=True)
class Match:
    name: str
    scope: tuple[str, ...]
    score: int

    def to_json(self) -> Obj:
        out: Obj = {"ID": self.name}
        if self.scope:
            out["Scope"] = list(self.scope)
        return out


def _found(name: str, text: str, *scope: str) -> Match | None:
    idx = name.lower().find(text)
    return Match(name, scope, idx) if idx >= 0 else None


def job_matches(job: Row, text: str) -> dict[str, list[Match]]:
    """Where `text` occurs in a job: its name, its groups', services', tasks' names and its
    tasks' image, command or class."""
    out: dict[str, list[Match]] = {}
    ns, job_id = str(job.get("Namespace") or "default"), str(job["ID"])

    def add(ctx: str, found: Match | None) -> None:
        if found is not None:
            out.setdefault(ctx, []).append(found)

    add(JOBS, _found(str(job.get("Name") or job_id), text, ns, job_id))
    for group in job.get("TaskGroups") or []:
        gname = str(group.get("Name", ""))
        add("groups", _found(gname, text, ns, job_id))
        for service in group.get("Services") or []:
            add("services", _found(str(service.get("Name", "")), text, ns, job_id, gname))
        for task in group.get("Tasks") or []:
            tname = str(task.get("Name", ""))
            add("tasks", _found(tname, text, ns, job_id, gname))
            for service in task.get("Services") or []:
                name = str(service.get("Name", ""))
                add("services", _found(name, text, ns, job_id, gname, tname))
            ctx_param = _DRIVER_PARAM.get(str(task.get("Driver", "")))
            if ctx_param is not None:
                value = (task.get("Config") or {}).get(ctx_param[1])
                if isinstance(value, str):
                    add(ctx_param[0], _found(value, text, ns, job_id, gname, tname))
    return out


def _sorted(matches: list[Match]) -> list[Match]:
    return sorted(matches, key=lambda m: (m.score, len(m.name), m.name))


def fuzzy_context(
    objects: Sequence[Row], text: str, match: Callable[[Row, str], dict[str, list[Match]]]
) -> tuple[dict[str, list[Match]], dict[str, bool]]:
    """One fuzzy context's matches and truncations, with Nomad's query and result limits."""
    found: dict[str, list[Match]] = {}
    truncated: dict[str, bool] = {}
    for i, obj in enumerate(objects[:LIMIT_QUERY]):
        limited = i == LIMIT_QUERY - 1 and len(objects) > LIMIT_QUERY
        for ctx, matches in match(obj, text).items():
            for one in matches:
                if len(found.setdefault(ctx, [])) >= LIMIT_RESULTS:
                    truncated[ctx] = True
                    break
                found[ctx].append(one)
                if limited:
                    truncated[ctx] = True
                    break
    return {ctx: _sorted(ms) for ctx, ms in found.items()}, truncated


def prefix_context(ids: Iterable[str], text: str) -> tuple[list[str], bool]:
    """Nomad's prefix match over at most 20 IDs (its prefix search's limit)."""
    ordered = sorted(ids)
    window = ordered[:LIMIT_QUERY]
    return [i for i in window if i.startswith(text)], len(ordered) > LIMIT_QUERY


Matcher = Callable[[Row, str], dict[str, list[Match]]]


def _single(
    ctx: str, name_of: Callable[[Row], str], scope_of: Callable[[Row], tuple[str, ...]]
) -> Matcher:
    """The matcher of a context whose objects match by one name."""

    def match(obj: Row, text: str) -> dict[str, list[Match]]:
        found = _found(name_of(obj), text, *scope_of(obj))
        return {ctx: [found]} if found is not None else {}

    return match


_MATCHERS: dict[str, Matcher] = {
    JOBS: job_matches,
    ALLOCS: _single(
        ALLOCS,
        lambda a: str(a.get("Name", "")),
        lambda a: (str(a.get("Namespace") or "default"), str(a["ID"])),
    ),
    NODES: _single(NODES, lambda n: str(n.get("Name", "")), lambda n: (str(n["ID"]),)),
    NAMESPACES: _single(NAMESPACES, lambda n: str(n["Name"]), lambda n: ()),
    VARS: _single(
        VARS,
        lambda v: str(v.get("Path", "")),
        lambda v: (str(v.get("Namespace") or "default"), str(v.get("Path", ""))),
    ),
}


def fuzzy_search(
    text: str,
    contexts: Sequence[str],
    objects: Mapping[str, Sequence[Row]],
    ids: Mapping[str, Iterable[str]],
) -> tuple[Obj, dict[str, bool]]:
    """Matches and truncations of `text` in `contexts`: `objects` holds each fuzzy
    context's objects (in Nomad's iteration order), `ids` each prefix context's IDs."""
    lowered = text.lower()
    matches: Obj = {}
    truncations: dict[str, bool] = {}
    for ctx in contexts:
        if ctx in PREFIX_CONTEXTS:
            found_ids, cut = prefix_context(ids.get(ctx, ()), text)
            matches[ctx] = [{"ID": i} for i in found_ids]
            truncations[ctx] = cut
            continue
        truncations[ctx] = False
        matcher = _MATCHERS.get(ctx)
        if matcher is None:
            continue  # plugins, node pools: nothing of them to search
        found, cuts = fuzzy_context(objects.get(ctx, ()), lowered, matcher)
        for sub, ms in found.items():
            matches[sub] = [m.to_json() for m in ms]
        truncations.update(cuts)
    return matches, truncations


# --- the endpoint ------------------------------------------------------------------------


def _contexts(context: str) -> list[str]:
    if context == "all":
        return list(CONTEXTS)
    if context not in CONTEXTS:
        raise APIError(
            500,
            f"context must be one of [{' '.join(CONTEXTS)}] or 'all' for all contexts; "
            f'got "{context}"',
        )
    return [context]


def _readable(acl: p.ACL | None, ctx: str, namespace: str) -> bool:
    """Nomad's per-context check of a search (namespace `*`: checked per object)."""
    if acl is None or acl.is_management or namespace == p.ALL_NAMESPACES:
        return True
    if ctx in (ALLOCS, JOBS, EVALS, DEPLOYMENT):
        return acl.allow_namespace_op(namespace, p.READ_JOB)
    if ctx == SCALING:
        return acl.allow_namespace_any(namespace, p.LIST_SCALING_POLICIES, p.READ_JOB)
    if ctx == NODES:
        return acl.allow_node_read()
    if ctx == NAMESPACES:
        return acl.allow_namespace(namespace)
    if ctx == PLUGINS:
        return acl.allow_plugin_list()
    return False


async def fuzzy(request: web.Request) -> web.Response:
    server = server_of(request)
    store = server.store
    body = expect_object(await read_json(request), "body")
    text = get_field(body, "Text")
    if not isinstance(text, str):
        raise APIError.bad_request("Text: expected a string")
    context = str(get_field(body, "Context") or "all")
    namespace = str(get_field(body, "Namespace") or request.query.get("namespace") or "default")
    acl = server.acl.resolve(request_token(request)).acl if server.config.acl_enabled else None
    contexts = _contexts(context)
    if context != "all" and not _readable(acl, context, namespace):
        raise denied()
    if len(text) < MIN_TERM_LENGTH:
        raise APIError(
            500,
            f"fuzzy search query must be at least {MIN_TERM_LENGTH} characters, got {len(text)}",
        )
    contexts = [c for c in contexts if _readable(acl, c, namespace)]

    def in_scope(obj: Row) -> bool:
        obj_ns = str(obj.get("Namespace") or "default")
        if namespace not in (p.ALL_NAMESPACES, obj_ns):
            return False
        return acl is None or acl.allow_namespace_op(obj_ns, p.READ_JOB)

    def by_id(kind: str) -> list[Row]:
        table = store.tables[kind]
        return [table[k] for k in sorted(table)]

    names = {"default"} | {str(j.get("Namespace") or "default") for j in store.jobs()}
    nodes_ok = acl is None or acl.allow_node_read()
    objects: dict[str, list[Row]] = {
        JOBS: [j for j in sorted(store.jobs(), key=lambda j: j["ID"]) if in_scope(j)],
        ALLOCS: [a for a in by_id(s.ALLOC) if in_scope(a)],
        NODES: by_id(s.NODE) if nodes_ok else [],
        NAMESPACES: [{"Name": n} for n in sorted(names) if acl is None or acl.allow_namespace(n)],
        VARS: [v for v in by_id(s.VARIABLE) if namespace in (p.ALL_NAMESPACES, v["Namespace"])]
        if acl is None or acl.is_management
        else [],
    }
    ids: dict[str, list[str]] = {
        EVALS: [e["ID"] for e in store.evals.values() if in_scope(e)],
        DEPLOYMENT: [d["ID"] for d in store.deployments.values() if in_scope(d)],
        SCALING: [pol["ID"] for j in store.jobs() if in_scope(j) for pol in job_policies(j)],
    }
    matches, truncations = fuzzy_search(text, contexts, objects, ids)
    index = store.index
    return json_response(
        {
            "Matches": matches,
            "Truncations": truncations,
            "Index": index,
            "KnownLeader": True,
            "LastContact": 0,
        },
        headers=index_headers(index),
    )


ROUTES: list[Route] = [
    routes.write("/v1/search/fuzzy", fuzzy),
]


def add_routes(router: web.UrlDispatcher) -> None:
    routes.add_routes(router, ROUTES)

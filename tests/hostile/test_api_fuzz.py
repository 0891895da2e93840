"""Every route of the catalog's, the scheduler's, the client's and the router UI's HTTP APIs,
with hostile path parts, query strings and bodies: never a 500, never a hang, the process
stays up.

The routes are not listed by hand: they are read from the apps' own route tables (built
in-process, never served), so a route added later is fuzzed too. The requests go to a real
`yurt catalog -dev`, `yurt scheduler`, `yurt client` and `yurt router` (processes on
loopback, a task running). Hypothesis draws the method and template, fills each `{name}`
part with text of every kind (dot segments, percent-encoded NULs, unicode, long runs; IDs
that exist, such as the running allocation's for the client's `{alloc}`), adds query
parameters that the handlers read (blocking `index` and `wait`, `filter`, `namespace`,
`prefix`, `cas`, `recurse`, `path`, `offset`, ...) with hostile values, and sends a random
JSON (or non-JSON) body. Streaming answers (`fs/stream`, followed logs) are judged by their
status line and then closed.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.client.conftest import running_cluster
from tests.support.process import YurtProcess, free_port
from yurt.catalog.app import build_app as build_catalog_app
from yurt.catalog.config import CatalogConfig
from yurt.catalog.server import CatalogServer
from yurt.client.http_api import build_app as build_client_app
from yurt.router.admin import build_app as build_router_app
from yurt.router.config import RouterConfig
from yurt.router.server import Router
from yurt.scheduler.config import SchedulerConfig
from yurt.scheduler.http_api import build_app as build_scheduler_app
from yurt.scheduler.server import SchedulerServer

ROOT = Path(__file__).resolve().parents[2]
# Long enough to notice a hang, short next to the test's own timeout. No drawn request blocks:
# a blocking `index` always comes with a `wait` that is short or invalid (see `_query`).
TIMEOUT_S = 15.0
ANY_METHOD = ["GET", "PUT", "POST", "DELETE", "HEAD"]
# The real products' own 500s for an unknown `dc` / `region`, which their clients match on
# (hashicorp/consul#908, linkerd's consul namer), and Consul's 500 for a KV `?acquire=` or
# `?release=` naming no session (consul 1.10.11: `PUT /v1/kv/x?acquire=0` is a 500 "failed
# session lookup"): faithful answers, not failures.
FAITHFUL_500S = (
    "No path to datacenter",
    "No path to region",
    "invalid session",
    # Consul's own 500s (texts checked against consul 1.10.11, see
    # tests/differential/test_consul_endpoints.py): an unknown node to force-leave, a Raft
    # peer that is not there, a join or keyring change failing (multi-errors), an event tag
    # filter without a service, a bad coordinate, an upload that is not a snapshot, a script
    # check on an agent without script checks, intentions' missing parameters, an unknown
    # config entry kind
    "agent: No node found with name",
    'address "',
    'id "',
    "cannot find peer",
    "1 error occurred",
    "2 errors occurred",
    "4 errors occurred",
    "Cannot provide tag filter",
    "invalid coordinate",
    "incompatible coordinate",
    "failed to read snapshot",
    "failed to decompress snapshot",
    "Scripts are disabled",
    "required query parameter",
    "'by' parameter must be",
    "invalid config entry kind",
    # Nomad's own 500s (its RPC errors): a node pool that is not there, an allocation the
    # client cannot collect
    "node pool ",
    "No such allocation on client, or allocation not eligible for GC",
)


@dataclass(frozen=True)
class Route:
    method: str
    template: str


def _routes(app_routes: list[tuple[str, str]]) -> list[Route]:
    seen: set[Route] = set()
    for method, template in app_routes:
        for m in ANY_METHOD if method == "*" else [method]:
            seen.add(Route(m, template))
    return sorted(seen, key=lambda r: (r.template, r.method))


def _table(app: object) -> list[tuple[str, str]]:
    from aiohttp import web

    assert isinstance(app, web.Application)
    out: list[tuple[str, str]] = []
    for route in app.router.routes():
        if route.resource is not None:
            out.append((route.method, route.resource.canonical))
    return out


def catalog_routes(tmp: Path) -> list[Route]:
    server = CatalogServer(CatalogConfig(data_dir=tmp / "catalog-routes", dev=True))
    return _routes(_table(build_catalog_app(server)))


def client_routes() -> list[Route]:
    # The table only: the handlers are never called, so the agent is a stand-in.
    agent: Any = SimpleNamespace(config=SimpleNamespace(acl_token_ttl=30.0))
    return _routes(_table(build_client_app(agent)))


def router_routes() -> list[Route]:
    return _routes(_table(build_router_app(Router(RouterConfig()))))


def scheduler_routes(tmp: Path) -> list[Route]:
    server = SchedulerServer(SchedulerConfig(data_dir=tmp / "scheduler-routes"))
    try:
        return _routes(_table(build_scheduler_app(server)))
    finally:
        server.store.close()


# Text for a `{name}` part: what a path-traversal or encoding bug would trip on.
_hostile_segments = st.sampled_from(
    [
        "..",
        "../..",
        "%2e%2e",
        "%2E%2E%2F%2E%2E",
        "%00",
        "a%00b",
        "%",
        "%zz",
        "%ff%fe",
        "%2F",
        "a/b/c",
        "-",
        "*",
        "_",
        "default",
        "self",
        "periodic/force",
        "x/allocations",
        "x/evaluate",
        "x/plan",
        "x/dispatch",
        "x/scale",
        "x/versions",
        "x/revert",
        "x/stable",
        "x/summary",
        "x/deployment",
        "x/submission",
        "x/periodic/force",
        "anonymous",
        "00000000-0000-0000-0000-000000000000",
        "00000000-0000-0000-0000-000000000002",
        "\u00e9\u4e2d\U0001f600",
        "\u202e\u200b",
        "a" * 2000,
        "9" * 400,
        "1e309",
        "-1",
        "NaN",
    ]
)
_segment = _hostile_segments | st.text(max_size=30).map(lambda t: urllib.parse.quote(t, safe=""))

_hostile_values = st.sampled_from(
    [
        "",
        "0",
        "1",
        "-1",
        "9" * 40,
        "1e309",
        "NaN",
        "true",
        "false",
        "abc",
        "%00",
        "..",
        "*",
        "default",
        "a" * 5000,
        "\u00e9\u4e2d",
        '"',
        "Service ==",
        "Service == web",
        'Meta.k == "v"',
        '"x" in Tags',
        "((((((((((",
        "(" * 1000 + "Service == x" + ")" * 1000,
        "not " * 1000 + "Service == x",
        "not not not",
        'Node matches "["',
        "Checks.Status == passing and",
        "ServiceTags is empty",
        "bad ~= syntax",
        "10ms",
        "-5s",
        "1h",
        "99999999999999999999h",
        "1e400s",
        "10x",
    ]
)
_value = _hostile_values | st.text(max_size=40)
_params = st.sampled_from(
    [
        "index",
        "wait",
        "filter",
        "namespace",
        "prefix",
        "cas",
        "recurse",
        "keys",
        "separator",
        "raw",
        "flags",
        "acquire",
        "release",
        "dc",
        "stale",
        "consistent",
        "near",
        "node-meta",
        "tag",
        "passing",
        "region",
        "per_page",
        "next_token",
        "reverse",
        "task",
        "type",
        "offset",
        "limit",
        "origin",
        "follow",
        "path",
        "context",
        "all",
        "purge",
        "global",
        "diff",
        "version",
        "token",
        "resources",
        "enable",
        "ns",
        "plain",
        "signal",
        "node_id",
    ]
)
# A wait that never blocks for long: short, or not a duration at all.
# Not "": an empty wait is the default wait (5 minutes), and a drawn index that happens to
# be the current one (an empty event list's, say) then rightly blocks that long.
_short_wait = st.sampled_from(["1ms", "0s", "0", "abc", "-1s", "1e400s", "10x", "%00"])


@st.composite
def _query(draw: st.DrawFn) -> list[tuple[str, str]]:
    pairs = draw(st.lists(st.tuples(_params, _value), max_size=6))
    names = {k for k, _ in pairs}
    pairs = [(k, v) for k, v in pairs if k != "wait"]
    if "index" in names or "wait" in names:
        pairs.append(("wait", draw(_short_wait)))
    return pairs


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=15,
)
_field_names = st.sampled_from(
    [
        "ID",
        "Name",
        "Node",
        "Address",
        "Service",
        "Check",
        "Checks",
        "Job",
        "TaskGroups",
        "Rules",
        "Policies",
        "Roles",
        "AccessorID",
        "SecretID",
        "Type",
        "Datacenters",
        "TTL",
        "Behavior",
        "LockDelay",
        "Meta",
        "Tags",
        "Port",
        "Drain",
        "DrainSpec",
        "Eligibility",
        "Eligible",
        "Count",
        "Target",
        "Status",
        "JobVersion",
        "Payload",
        "Meta",
        "SchedulerAlgorithm",
        "PreemptionConfig",
        "Prefix",
        "Context",
        "Token",
        "Reason",
    ]
)
_shaped = st.recursive(
    _json,
    lambda inner: st.dictionaries(_field_names, inner, max_size=5) | st.lists(inner, max_size=3),
    max_leaves=20,
)
_bodies = st.one_of(
    st.just(b""),
    _shaped.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=48),
    st.sampled_from([b"null", b"[]", b"{}", b'"x"', b"1e999", b"\xff", b"{" * 50, b"[" * 600]),
)

_PART = re.compile(r"\{[^}]+\}")


def _fill(template: str, parts: list[str]) -> str:
    it = iter(parts)
    return _PART.sub(lambda _: next(it, "x") or "x", template)


def _url(base: str, route: Route, parts: list[str], query: list[tuple[str, str]]) -> str:
    path = _fill(route.template, parts)
    qs = urllib.parse.urlencode(query, quote_via=urllib.parse.quote)
    return f"{base}{path}" + (f"?{qs}" if qs else "")


@dataclass
class Target:
    url: str
    routes: list[Route] = field(repr=False)
    alive: Callable[[], bool] = field(repr=False)
    ready: str = field(repr=False)
    # What a `{name}` part may be besides hostile text: IDs that exist, to reach deeper.
    known: list[str] = field(default_factory=list, repr=False)


@pytest.fixture(scope="module")
def targets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Target]]:
    tmp = tmp_path_factory.mktemp("api-fuzz")
    with running_cluster(tmp) as cluster:
        cluster.run((ROOT / "jobs" / "job.sleep.nomad").read_text())
        alloc = cluster.wait_alloc("job-sleep", "running")
        # Something for reads to find: most drawn names find nothing and stop at a 404.
        for key in ("fuzz/a", "fuzz/b/c"):
            assert cluster.consul.kv.put(key, b"v" * 100)

        def up(proc: Any) -> Callable[[], bool]:
            return lambda: proc.proc.proc is not None and proc.proc.proc.poll() is None

        ui = free_port()
        router = YurtProcess(
            [
                "router",
                "-proxy.addr",
                f"127.0.0.1:{free_port()}",
                "-ui.addr",
                f"127.0.0.1:{ui}",
                "-registry.consul.addr",
                f"127.0.0.1:{cluster.catalog.port}",
                "-registry.consul.register.enabled",
                "false",
            ],
            ready_url=f"http://127.0.0.1:{ui}/health",
            log_path=tmp / "router.log",
        )
        with router:
            yield {
                "catalog": Target(
                    cluster.catalog.url,
                    catalog_routes(tmp),
                    up(cluster.catalog),
                    "/v1/status/leader",
                    ["fuzz/", "fuzz/a", "fuzz", "nomad-1-client", "nomad-client", "dc1"],
                ),
                "scheduler": Target(
                    cluster.sched.url,
                    scheduler_routes(tmp),
                    up(cluster.sched),
                    "/v1/agent/health",
                    ["job-sleep", alloc["ID"], alloc["NodeID"], alloc["EvalID"]],
                ),
                "client": Target(
                    cluster.client.url,
                    client_routes(),
                    up(cluster.client),
                    "/v1/agent/health",
                    [alloc["ID"]],
                ),
                "router": Target(
                    f"http://127.0.0.1:{ui}",
                    router_routes(),
                    lambda: router.proc is not None and router.proc.poll() is None,
                    "/health",
                    ["routes", "manual"],
                ),
            }


def test_the_route_tables_are_read_whole(targets: dict[str, Target]) -> None:
    # Guards the enumeration itself: an empty or partial table would make the fuzz vacuous.
    catalog = {(r.method, r.template) for r in targets["catalog"].routes}
    sched = {(r.method, r.template) for r in targets["scheduler"].routes}
    assert ("GET", "/v1/kv/{key}") in catalog and ("PUT", "/v1/txn") in catalog
    assert ("DELETE", "/v1/job/{id}") in sched and ("POST", "/v1/jobs/parse") in sched
    client = {(r.method, r.template) for r in targets["client"].routes}
    assert ("GET", "/v1/client/fs/cat/{alloc}") in client
    assert ("POST", "/v1/client/allocation/{alloc}/signal") in client
    assert len(catalog) > 80 and len(sched) > 80 and len(client) > 10
    assert ("PUT", "/api/manual/{key}") in {
        (r.method, r.template) for r in targets["router"].routes
    }


def _check(
    target: Target, route: Route, parts: list[str], query: list[tuple[str, str]], body: bytes
) -> None:
    url = _url(target.url, route, parts, query)
    data = None if route.method in ("GET", "HEAD") and not body else body
    try:
        # Streamed: a followed file or log answers its status and then never ends.
        with requests.request(route.method, url, data=data, timeout=TIMEOUT_S, stream=True) as resp:
            status = resp.status_code
            # Only a refusal's text is judged; a stream (a followed log, the agent's monitor)
            # may trickle bytes for ever, so its body is not read.
            text = ""
            if status >= 500:
                text = resp.raw.read(400, decode_content=False).decode(errors="replace")
    except requests.exceptions.Timeout:
        pytest.fail(f"no answer in {TIMEOUT_S}s: {route.method} {url[:300]} body={body[:100]!r}")
    if status == 500:
        # A HEAD answer has no body to tell why: the same GET says.
        if route.method == "HEAD":
            text = requests.get(url, timeout=TIMEOUT_S).text
        if text.startswith(FAITHFUL_500S):
            return
    assert status < 500, (route.method, url[:300], body[:200], status, text[:300])
    assert target.alive(), f"the process died on {route.method} {url[:300]}"


_FUZZ = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.mark.parametrize("name", ["catalog", "scheduler", "client", "router"])
@_FUZZ
@given(data=st.data(), query=_query(), body=_bodies)
def test_no_request_is_a_500(
    targets: dict[str, Target],
    name: str,
    data: st.DataObject,
    query: list[tuple[str, str]],
    body: bytes,
) -> None:
    target = targets[name]
    route = data.draw(st.sampled_from(target.routes), label="route")
    part = _segment | st.sampled_from(target.known) if target.known else _segment
    parts = data.draw(st.lists(part, min_size=3, max_size=3), label="parts")
    _check(target, route, parts, query, body)


def test_every_process_still_answers_after_the_fuzz(targets: dict[str, Target]) -> None:
    for target in targets.values():
        assert target.alive()
        resp = requests.get(target.url + target.ready, timeout=TIMEOUT_S)
        assert resp.status_code == 200, (target.url, resp.status_code, resp.text)

"""Check runners: Consul's thresholds, TTL output, the probes' output text."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.support.process import free_port
from yurt.api.blocking import WatchHub
from yurt.catalog.checks import CheckRunners
from yurt.catalog.model import (
    CRITICAL,
    PASSING,
    WARNING,
    Check,
    CheckDefinition,
    Node,
    Service,
)
from yurt.catalog.store import CatalogStore


def _setup(tmp_path: Path, definition: CheckDefinition) -> tuple[CatalogStore, CheckRunners]:
    store = CatalogStore(tmp_path / "c.db", WatchHub())
    store.upsert_node(Node(name="n", node_id="i", address="127.0.0.1", datacenter="dc1"))
    svc = Service(node="n", id="s", name="s")
    check = Check(
        node="n", check_id="c", name="c", service_id="s", service_name="s", definition=definition
    )
    store.register_service(svc, [check])
    return store, CheckRunners(store, "n", lambda sid: None)


def _status(store: CatalogStore) -> str:
    return store.checks[("n", "c")].status


async def test_thresholds_as_consul_status_handler(tmp_path: Path) -> None:
    d = CheckDefinition(
        kind="ttl",
        ttl_ns=3600 * 10**9,
        success_before_passing=2,
        failures_before_warning=1,
        failures_before_critical=3,
    )
    store, runners = _setup(tmp_path, d)
    runners.start(store.checks[("n", "c")])
    state = runners._states["c"]
    # the counters start at their thresholds: the first result applies at once
    runners._report(state, PASSING, "ok")
    assert _status(store) == PASSING
    runners._report(state, CRITICAL, "bad 1")
    assert _status(store) == WARNING  # FailuresBeforeWarning=1
    runners._report(state, CRITICAL, "bad 2")
    assert _status(store) == WARNING
    runners._report(state, CRITICAL, "bad 3")
    assert _status(store) == CRITICAL
    runners._report(state, PASSING, "ok 1")
    assert _status(store) == CRITICAL  # needs two successes
    runners._report(state, WARNING, "meh")
    assert _status(store) == WARNING  # a warning counts as a success
    await runners.close()
    store.close()


async def test_ttl_expiry_quotes_last_output(tmp_path: Path) -> None:
    store, runners = _setup(tmp_path, CheckDefinition(kind="ttl", ttl_ns=100_000_000))
    runners.start(store.checks[("n", "c")])
    runners.update_ttl("c", PASSING, "last words")
    assert _status(store) == PASSING
    for _ in range(100):
        await asyncio.sleep(0.02)
        if _status(store) == CRITICAL:
            break
    chk = store.checks[("n", "c")]
    assert chk.status == CRITICAL
    assert chk.output == "TTL expired (last output before timeout follows): last words"
    await runners.close()
    store.close()


async def test_http_refused_output(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/health"
    d = CheckDefinition(kind="http", http=url, interval_ns=10**9, timeout_ns=10**9)
    store, runners = _setup(tmp_path, d)
    status, output = await runners._run_http(store.checks[("n", "c")])
    assert status == CRITICAL
    assert output == f'Get "{url}": dial tcp 127.0.0.1:{port}: connect: connection refused'
    await runners.close()
    store.close()


async def test_a_check_that_has_not_passed_yet_is_retried_before_its_interval(
    tmp_path: Path,
) -> None:
    """A service registered while its task is still binding its port: the target starts
    listening after the first probe failed, and the check passes long before the interval."""
    port = free_port()
    d = CheckDefinition(
        kind="tcp", tcp=f"127.0.0.1:{port}", interval_ns=60 * 10**9, timeout_ns=10**9
    )
    store, runners = _setup(tmp_path, d)
    runners.start(store.checks[("n", "c")])
    await asyncio.sleep(0.1)
    assert _status(store) == CRITICAL  # the first probe ran at once, and failed
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", port)
    try:
        for _ in range(150):
            await asyncio.sleep(0.02)
            if _status(store) == PASSING:
                break
        assert _status(store) == PASSING  # within 3 s, with a 60 s interval
    finally:
        server.close()
        await runners.close()
        store.close()

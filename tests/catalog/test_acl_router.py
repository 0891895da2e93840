"""The router (as Fabio with `registry.consul.token`) against a catalog with ACLs on: its
health watch, its manual routes from KV and its own registration all carry the token."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import consul

from tests.catalog.conftest import CatalogProcess
from tests.support.process import YurtProcess, free_port, wait_for


def _routes(ui: int) -> list[dict[str, object]]:
    with urllib.request.urlopen(f"http://127.0.0.1:{ui}/api/routes", timeout=5) as resp:
        # Fabio answers null for an empty table
        data: list[dict[str, object]] | None = json.loads(resp.read())
    return data or []


def test_router_reads_and_registers_with_its_token(
    acl_catalog: CatalogProcess, root: consul.Consul, tmp_path: Path
) -> None:
    token = root.acl.token.create(
        description="router", templated_policies=[{"builtin/nomad-client": {}}]
    )
    root.agent.service.register(
        "shop",
        service_id="shop-1",
        address="127.0.0.1",
        port=18081,
        tags=["urlprefix-/shop"],
        check=consul.Check.ttl("10m"),
    )
    root.agent.check.ttl_pass("service:shop-1")
    root.kv.put("fabio/config/manual", "route add manual /manual http://127.0.0.1:18082/\n")
    proxy, ui = free_port(), free_port()
    args = [
        "router",
        "-proxy.addr",
        f"127.0.0.1:{proxy}",
        "-ui.addr",
        f"127.0.0.1:{ui}",
        "-registry.consul.addr",
        f"127.0.0.1:{acl_catalog.port}",
        "-registry.consul.token",
        token["SecretID"],
    ]
    with YurtProcess(args, ready_url=f"http://127.0.0.1:{ui}/health", log_path=tmp_path / "r.log"):

        def both() -> bool:
            paths = {r.get("path") for r in _routes(ui)}
            return {"/shop", "/manual"} <= paths

        wait_for(both, timeout=20, what="the health watch's and the KV's routes")
        wait_for(
            lambda: root.health.service("fabio", passing=True)[1],
            timeout=20,
            what="the router's own registration to pass",
        )
    root.agent.service.deregister("shop-1")
    root.kv.delete("fabio/config/manual")

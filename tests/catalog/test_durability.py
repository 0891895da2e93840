"""State survives a restart, even after kill -9; the index never goes backwards."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import consul
import pytest

from tests.catalog.conftest import CatalogProcess, Target, wait_for


@pytest.fixture
def proc(tmp_path: Path) -> Iterator[CatalogProcess]:
    p = CatalogProcess(tmp_path).start()
    try:
        yield p
    finally:
        p.proc.stop()


def test_kill9_keeps_everything(proc: CatalogProcess) -> None:
    c = proc.client()
    c.agent.service.register("keep", service_id="keep-1", port=80, tags=["x"], check={"TTL": "2s"})
    c.agent.check.ttl_pass("service:keep-1", "fine")
    c.kv.put("durable/key", "value")
    index_before = int(c.kv.get("durable/key")[0])
    proc.proc.kill()
    proc.start()
    c = proc.client()
    svc = c.agent.services()["keep-1"]
    assert svc["Tags"] == ["x"] and svc["Port"] == 80
    _, entry = c.kv.get("durable/key")
    assert entry["Value"] == b"value"
    assert int(c.kv.get("durable/key")[0]) >= index_before
    # the TTL runner resumed: without a heartbeat the check expires
    wait_for(
        lambda: c.agent.checks()["service:keep-1"]["Status"] == "critical",
        timeout=6,
        what="TTL expiry after restart",
    )
    c.kv.put("durable/after", "1")
    _, after = c.kv.get("durable/after")
    assert after["ModifyIndex"] > index_before


def test_config_dir_services(tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "web.json").write_text(
        '{"service": {"name": "fromfile", "port": 8080, "tags": ["urlprefix-/f"],'
        ' "check": {"ttl": "30s"}}}'
    )
    (conf / "db.hcl").write_text(
        'services {\n  name = "fromhcl"\n  port = 5432\n  tags = ["primary"]\n'
        '  checks {\n    id = "fromhcl-ttl"\n    ttl = "30s"\n  }\n}\n'
    )
    p = CatalogProcess(tmp_path, "-config-dir", str(conf), "-datacenter", "east").start()
    try:
        c: consul.Consul = p.client()
        assert c.agent.self()["Config"]["Datacenter"] == "east"
        assert c.catalog.datacenters() == ["east"]
        assert c.agent.services()["fromfile"]["Tags"] == ["urlprefix-/f"]
        assert c.agent.checks()["service:fromfile"]["Status"] == "critical"
        assert (c.agent.services()["fromhcl"]["Port"], c.agent.services()["fromhcl"]["Tags"]) == (
            5432,
            ["primary"],
        )
        c.agent.check.ttl_pass("fromhcl-ttl")
        assert c.health.service("fromhcl", passing=True)[1][0]["Service"]["ID"] == "fromhcl"
    finally:
        p.proc.stop()


def test_bad_config_dir_names_the_file(tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "bad.json").write_text('{"service": {"name": "x",\n "port": }}')
    p = CatalogProcess(tmp_path, "-config-dir", str(conf))
    with pytest.raises(RuntimeError) as err:
        p.start()
    assert "bad.json:2" in str(err.value)


def test_http_runner_resumes_after_restart(proc: CatalogProcess, target: Target) -> None:
    target.status = 200
    c = proc.client()
    c.agent.service.register(
        "resumed", check={"HTTP": target.url, "Interval": "200ms", "Timeout": "1s"}
    )
    wait_for(lambda: c.agent.checks()["service:resumed"]["Status"] == "passing", what="passing")
    proc.proc.stop()
    proc.start()
    c = proc.client()
    assert c.agent.checks()["service:resumed"]["Status"] == "passing"
    target.status = 503
    try:
        wait_for(
            lambda: c.agent.checks()["service:resumed"]["Status"] == "critical",
            what="the resumed runner to see the 503",
        )
    finally:
        target.status = 200


def test_reload_follows_the_config_dir(tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "a.json").write_text(
        '{"service": {"name": "a", "port": 1, "check": {"id": "a-ttl", "ttl": "60s"}}}'
    )
    (conf / "b.json").write_text('{"service": {"name": "b", "port": 2}}')
    p = CatalogProcess(tmp_path, "-config-dir", str(conf)).start()
    try:
        c: consul.Consul = p.client()
        c.agent.service.register("api-made", port=3)
        assert {"a", "b", "api-made"} <= set(c.agent.services())
        (conf / "b.json").unlink()
        (conf / "a.json").write_text('{"service": {"name": "a", "port": 10}}')
        # SIGHUP, as `consul reload` sends
        assert p.proc.proc is not None
        p.proc.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "b" not in c.agent.services(), what="b removed on SIGHUP")
        services = c.agent.services()
        assert services["a"]["Port"] == 10
        assert "api-made" in services
        assert "a-ttl" not in c.agent.checks()
        (conf / "c.json").write_text('{"service": {"name": "c"}}')
        assert p.put("/v1/agent/reload").status_code == 200
        assert "c" in c.agent.services()
        (conf / "c.json").write_text('{"service": {"name": ')
        r = p.put("/v1/agent/reload")
        assert r.status_code == 500
        assert "c.json:1" in r.text
        assert "c" in c.agent.services()
    finally:
        p.proc.stop()
    # the services of the files survive a restart; those of deleted files stay gone
    (conf / "c.json").unlink()
    p.start()
    try:
        services = p.client().agent.services()
        assert "a" in services and "api-made" in services
        assert "b" not in services and "c" not in services
    finally:
        p.proc.stop()

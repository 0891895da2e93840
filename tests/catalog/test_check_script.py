"""Script checks (`Args`): Consul's rules for when they run (tables), its exit-code mapping
and output texts (tables), and real scripts run by the agent through py-consul (texts
checked against consul 1.10.11 with -enable-script-checks)."""

from __future__ import annotations

import asyncio
import errno
import os
import time
from pathlib import Path

import pytest
from consul import Check

from tests.catalog.conftest import CatalogProcess
from tests.catalog.inprocess import py_consul, request, running_catalog
from yurt.catalog import CatalogConfig, CatalogServer
from yurt.catalog.check_script import captured, exec_error, run_script, status_of
from yurt.catalog.configdir import ConfigDirError
from yurt.catalog.definitions import (
    LOCAL_SCRIPTS_DISABLED,
    REMOTE_SCRIPTS_DISABLED,
    ScriptsDisabled,
    parse_check,
    refuse_disabled_scripts,
)

SCRIPT = parse_check({"Name": "s", "Args": ["true"], "Interval": "10s"}, node="n")
TTL = parse_check({"Name": "t", "TTL": "10s"}, node="n")

# (checks, remote, enable_script, enable_local, refused with)
POLICY = [
    ([TTL], True, False, False, None),
    ([SCRIPT], True, False, False, REMOTE_SCRIPTS_DISABLED),
    # enable_local_script_checks is about config files: the API is still refused
    ([SCRIPT], True, False, True, REMOTE_SCRIPTS_DISABLED),
    ([SCRIPT], True, True, False, None),
    ([TTL, SCRIPT], False, False, False, LOCAL_SCRIPTS_DISABLED),
    ([SCRIPT], False, False, True, None),
    ([SCRIPT], False, True, False, None),
]


@pytest.mark.parametrize(("checks", "remote", "script", "local", "refused"), POLICY)
def test_when_scripts_run(
    checks: list[object], remote: bool, script: bool, local: bool, refused: str | None
) -> None:
    if refused is None:
        refuse_disabled_scripts(checks, remote=remote, enable_script=script, enable_local=local)  # type: ignore[arg-type]
        return
    with pytest.raises(ScriptsDisabled) as got:
        refuse_disabled_scripts(checks, remote=remote, enable_script=script, enable_local=local)  # type: ignore[arg-type]
    assert str(got.value) == refused


def test_definition_reads_args_and_script_args() -> None:
    assert SCRIPT.definition.kind == "script" and SCRIPT.definition.args == ["true"]
    # Consul's default for a script: 30 s
    assert SCRIPT.definition.timeout_ns == 30 * 10**9
    legacy = parse_check({"Name": "s", "ScriptArgs": ["a", "b"], "Interval": "1s"}, node="n")
    assert legacy.definition.args == ["a", "b"]
    assert SCRIPT.definition.definition_json()["ScriptArgs"] == ["true"]


@pytest.mark.parametrize(
    ("code", "status"), [(0, "passing"), (1, "warning"), (2, "critical"), (-9, "critical")]
)
def test_exit_codes(code: int, status: str) -> None:
    assert status_of(code) == status


@pytest.mark.parametrize(
    ("tail", "total", "want"),
    [
        (b"ok\n", 3, "ok\n"),
        (b"", 0, ""),
        (b"a" * 4096, 5000, "Captured 4096 of 5000 bytes\n...\n" + "a" * 4096),
    ],
)
def test_captured_output(tail: bytes, total: int, want: str) -> None:
    assert captured(tail, total) == want


@pytest.mark.parametrize(
    ("command", "err", "want"),
    [
        ("/nonexistent", errno.ENOENT, "fork/exec /nonexistent: no such file or directory"),
        ("nope", errno.ENOENT, 'exec: "nope": executable file not found in $PATH'),
        ("/etc/passwd", errno.EACCES, "fork/exec /etc/passwd: permission denied"),
    ],
)
def test_exec_errors(command: str, err: int, want: str) -> None:
    assert exec_error(command, OSError(err, os.strerror(err))) == want


@pytest.mark.process
async def test_run_script_outputs() -> None:
    second = 10**9
    assert await run_script(["sh", "-c", "echo ok; echo err >&2"], 5 * second) == (
        "passing",
        "ok\nerr\n",
    )
    assert await run_script(["sh", "-c", "echo warn; exit 1"], 5 * second) == ("warning", "warn\n")
    assert await run_script(["sh", "-c", "exit 3"], 5 * second) == ("critical", "")
    status, output = await run_script(
        ["sh", "-c", "head -c 5000 /dev/zero | tr '\\0' a"], 5 * second
    )
    assert status == "passing" and output.startswith("Captured 4096 of 5000 bytes\n...\naaa")
    # a timeout kills the script and what it started (its process group)
    assert await run_script(["sh", "-c", "sleep 30 & sleep 30"], second // 5) == (
        "critical",
        "Timed out (200ms) running check",
    )
    assert await run_script(["/nonexistent"], second) == (
        "critical",
        "fork/exec /nonexistent: no such file or directory",
    )


async def test_api_refuses_scripts_unless_enabled(tmp_path: Path) -> None:
    async with running_catalog(tmp_path) as srv:
        body = {"Name": "s", "Args": ["true"], "Interval": "10s"}
        status, text, _ = await request(srv, "PUT", "/v1/agent/check/register", body)
        assert (status, text) == (500, REMOTE_SCRIPTS_DISABLED)
        svc = {"Name": "web", "Port": 80, "Check": body}
        status, text, _ = await request(srv, "PUT", "/v1/agent/service/register", svc)
        assert (status, text) == (500, REMOTE_SCRIPTS_DISABLED)
        assert "web" not in srv.store.service_names()


async def _status(c: object, check_id: str, want: str) -> dict[str, object]:
    for _ in range(200):
        checks = await c.agent.checks()  # type: ignore[attr-defined]
        if checks.get(check_id, {}).get("Status") == want:
            return dict(checks[check_id])
        await asyncio.sleep(0.05)
    raise AssertionError(f"{check_id} never became {want}: {checks.get(check_id)}")


@pytest.mark.process  # the agent runs the scripts
async def test_script_checks_run_with_py_consul(tmp_path: Path) -> None:
    async with running_catalog(tmp_path) as srv, py_consul(srv) as c:
        srv.config.enable_script_checks = True
        ok = Check.script(["sh", "-c", "echo fine"], "10s")
        assert await c.agent.check.register("ok", check=ok) is True
        warn = Check.script(["sh", "-c", "echo slow; exit 1"], "10s")
        assert await c.agent.service.register("web", port=80, check=warn) is True
        got = await _status(c, "ok", "passing")
        assert got["Output"] == "fine\n" and got["Type"] == "script"
        got = await _status(c, "service:web", "warning")
        assert got["Output"] == "slow\n"
        health = await c.health.service("web")
        assert health[1][0]["Checks"][-1]["Status"] == "warning"


@pytest.mark.process  # the agent runs the file's script once started
async def test_config_file_scripts_need_a_switch(tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "web.json").write_text(
        '{"service": {"name": "web", "port": 80, "check": {"args": ["true"], "interval": "10s"}}}'
    )
    cfg = CatalogConfig(http_port=0, data_dir=tmp_path / "d", config_dirs=[conf])
    with pytest.raises(ConfigDirError, match="enable_local_script_checks"):
        srv = CatalogServer(cfg)
        await srv.start()
    # the file's own switch is enough for its checks
    (conf / "agent.json").write_text('{"enable_local_script_checks": true}')
    cfg = CatalogConfig(http_port=0, data_dir=tmp_path / "d2", config_dirs=[conf])
    srv = CatalogServer(cfg)
    await srv.start()
    try:
        assert cfg.enable_local_script_checks and not cfg.enable_script_checks
        assert "web" in srv.store.service_names()
        # the API still refuses scripts: enable_local_script_checks is about files
        body = {"Name": "s", "Args": ["true"], "Interval": "10s"}
        status, _, _ = await request(srv, "PUT", "/v1/agent/check/register", body)
        assert status == 500
    finally:
        await srv.stop()


def test_yurt_catalog_flag_enables_scripts(tmp_path: Path) -> None:
    proc = CatalogProcess(tmp_path, "-enable-script-checks").start()
    try:
        c = proc.client()
        assert c.agent.check.register("s", check=Check.script(["sh", "-c", "echo up"], "10s"))
        for _ in range(200):
            got = c.agent.checks().get("s", {})
            if got.get("Output"):
                break
            time.sleep(0.05)
        assert (got["Status"], got["Output"]) == ("passing", "up\n")
    finally:
        proc.proc.stop()

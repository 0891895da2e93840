"""`yurt catalog -config` and `yurt scheduler -config` read the `store { }` block."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.support.etcd import shared_endpoint
from tests.support.process import YurtProcess, free_port, wait_for
from yurt.cli import main
from yurt.storage.etcd import EtcdBackend


@pytest.mark.parametrize("command", ["catalog", "scheduler"])
def test_a_bad_store_block_stops_the_command(command: str, tmp_path: Path) -> None:
    config = tmp_path / "store.hcl"
    config.write_text('store {\n  backend = "etcd"\n  endpoints = ["localhost"]\n}\n')
    result = CliRunner().invoke(main, [command, "-config", str(config)])
    assert result.exit_code == 1
    assert f'{config}:3:3: "endpoints" in store: expected a URL' in result.output


@pytest.mark.parametrize("command", ["up", "scheduler"])
def test_an_etcd_that_does_not_answer_stops_the_command_cleanly(
    command: str, tmp_path: Path
) -> None:
    config = tmp_path / "store.hcl"
    dead = f"http://127.0.0.1:{free_port()}"
    config.write_text(f'store {{\n  backend = "etcd"\n  endpoints = ["{dead}"]\n}}\n')
    args = [command, "-config", str(config), "-data-dir", str(tmp_path / "data")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.output
    assert f"Error: the scheduler's store in etcd: etcd: no endpoint answered: {dead}" in (
        result.output
    )
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("command", "table", "ready"),
    [("catalog", "nodes", "/v1/status/leader"), ("scheduler", "config", "/v1/status/leader")],
)
def test_a_server_run_alone_keeps_its_state_in_etcd(
    command: str, table: str, ready: str, tmp_path: Path
) -> None:
    prefix = f"/t{tmp_path}"
    config = tmp_path / "store.hcl"
    config.write_text(
        f'store {{\n  backend = "etcd"\n  endpoints = ["{shared_endpoint()}"]\n'
        f'  prefix = "{prefix}"\n}}\n'
    )
    port = free_port()
    args = [command, "-config", str(config), "-data-dir", str(tmp_path / "data")]
    args += ["-http-addr", f"127.0.0.1:{port}"]
    with YurtProcess(args, ready_url=f"http://127.0.0.1:{port}{ready}", log_path=tmp_path / "log"):
        backend = EtcdBackend([shared_endpoint()], f"{prefix}/{command}")
        try:
            wait_for(lambda: list(backend.load(table)), what=f"the {command}'s {table} in etcd")
        finally:
            backend.close()
    assert not list((tmp_path / "data").glob("*.db"))

"""`yurt up` refuses a bad agent config before it starts anything."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from yurt.cli import main


def test_a_misspelt_key_is_reported_with_its_position(tmp_path: Path) -> None:
    config = tmp_path / "agent.hcl"
    config.write_text('datacenter = "dc1"\nconsul {\n  adress = "127.0.0.1:8500"\n}\n')
    result = CliRunner().invoke(main, ["up", "-config", str(config)])
    assert result.exit_code == 1
    assert f"{config}:3:3" in result.output
    assert "address" in result.output  # the did-you-mean


def test_a_missing_config_file_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["up", "-config", str(tmp_path / "nope.hcl")])
    assert result.exit_code == 2
    assert "nope.hcl" in result.output


def test_a_port_in_use_names_the_component_that_cannot_start(tmp_path: Path) -> None:
    import socket
    import subprocess
    import sys

    from tests.support.process import free_port

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        config = tmp_path / "agent.hcl"
        config.write_text(
            f"ports {{ http = {busy} }}\n"
            f'consul {{ address = "127.0.0.1:{free_port()}" }}\n'
            f'router {{\n  proxy_addr = "127.0.0.1:{free_port()}"\n'
            f'  ui_addr = "127.0.0.1:{free_port()}"\n}}\n'
        )
        proc = subprocess.run(
            [sys.executable, "-m", "yurt", "up", "-dev", "-config", str(config)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert proc.returncode == 1, proc.stderr
    assert "Error: the scheduler could not start" in proc.stderr
    assert "address already in use" in proc.stderr
    assert "Traceback" not in proc.stderr

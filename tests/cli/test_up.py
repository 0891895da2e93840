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

"""`yurt job init [-short] [FILE]`, as `nomad job init`: writes the example job (Nomad
1.9's default name `example.nomad.hcl`), never over an existing file."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from yurt.cli import main
from yurt.jobspec import parse_job


def test_init_writes_the_example_and_it_parses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["job", "init"])
    assert result.exit_code == 0, result.output
    assert result.output == "Example job file written to example.nomad.hcl\n"
    text = (tmp_path / "example.nomad.hcl").read_text()
    assert text.startswith("#") and parse_job(text, "example.nomad.hcl")["ID"] == "example"
    again = CliRunner().invoke(main, ["job", "init"])
    assert (again.exit_code, again.output) == (1, "Job 'example.nomad.hcl' already exists\n")
    assert (tmp_path / "example.nomad.hcl").read_text() == text


def test_init_short_to_a_named_file(tmp_path: Path) -> None:
    target = tmp_path / "cache.nomad.hcl"
    result = CliRunner().invoke(main, ["job", "init", "-short", str(target)])
    assert result.exit_code == 0, result.output
    assert result.output == f"Example job file written to {target}\n"
    assert "#" not in target.read_text()
    assert parse_job(target.read_text(), target.name)["UI"]["Description"]


def test_init_takes_one_filename_at_most(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["job", "init", str(tmp_path / "a"), str(tmp_path / "b")])
    assert result.exit_code == 2 and "unexpected extra argument" in result.output.lower()

"""`yurt job run -output` parses and prints, as `nomad job run -output` does: a job the
server would refuse (no task groups, a parameterized service job) still prints, and the
server's checks come from `yurt job validate` and on submit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from yurt.cli import main

CASES = [
    ("no task groups", 'job "empty" {\n  datacenters = ["dc1"]\n}\n', "Missing job task groups"),
    (
        "parameterized service job",
        'job "p" {\n  parameterized {\n    payload = "required"\n  }\n  group "g" {\n'
        '    task "t" {\n      driver = "exec"\n    }\n  }\n}\n',
        'Parameterized job can only be used with "batch"',
    ),
]


@pytest.mark.parametrize(("text", "server_error"), [pytest.param(t, e, id=n) for n, t, e in CASES])
def test_output_prints_what_validate_refuses(tmp_path: Path, text: str, server_error: str) -> None:
    path = tmp_path / "job.nomad"
    path.write_text(text)
    runner = CliRunner()
    out = runner.invoke(main, ["job", "run", "-output", str(path)])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["Job"]["ID"] == text.split('"')[1]
    checked = runner.invoke(main, ["job", "validate", str(path)])
    assert checked.exit_code == 1
    assert server_error in checked.output


def test_output_still_reports_what_the_parser_refuses(tmp_path: Path) -> None:
    path = tmp_path / "job.nomad"
    path.write_text('job "x" {\n  group "g" {\n    cuont = 2\n  }\n}\n')
    out = CliRunner().invoke(main, ["job", "run", "-output", str(path)])
    assert out.exit_code == 1
    assert f"{path}:3:5:" in out.output

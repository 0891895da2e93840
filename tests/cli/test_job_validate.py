"""`yurt job validate` and `yurt job run -output`, run as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from yurt.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_validate_seed_job_succeeds() -> None:
    result = CliRunner().invoke(main, ["job", "validate", str(ROOT / "jobs/job.nginx.nomad")])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "Job validation successful"


def test_validate_reports_positions_and_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.nomad"
    bad.write_text(
        'job "web" {\n'
        '  group "g" {\n'
        "    netwrok {\n"
        "    }\n"
        '    task "t" {\n'
        '      driver = "raw_exec"\n'
        "    }\n"
        "  }\n"
        "}\n"
    )
    result = CliRunner().invoke(main, ["job", "validate", str(bad)])
    assert result.exit_code == 1
    assert (
        f'{bad}:3:5: Unsupported block type; Blocks of type "netwrok" are not expected here. '
        'Did you mean "network"?' in result.output
    )


def test_validate_semantic_error_points_at_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "nodriver.nomad"
    bad.write_text(
        'job "x" {\n  group "g" {\n    task "t" {\n      user = "nobody"\n    }\n  }\n}\n'
    )
    result = CliRunner().invoke(main, ["job", "validate", str(bad)])
    assert result.exit_code == 1
    assert f'{bad}:3:5: Task "t" is missing a driver' in result.output


def test_run_output_prints_the_job_json_with_variables(tmp_path: Path) -> None:
    job = tmp_path / "v.nomad"
    job.write_text(
        'variable "image" {\n  type = string\n}\n'
        'job "v" {\n  group "g" {\n    task "t" {\n      driver = "docker"\n'
        "      config {\n        image = var.image\n      }\n    }\n  }\n}\n"
    )
    result = CliRunner().invoke(main, ["job", "run", "-output", "-var", "image=redis:7", str(job)])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["Job"]["ID"] == "v"
    assert doc["Job"]["TaskGroups"][0]["Tasks"][0]["Config"] == {"image": "redis:7"}


def test_run_with_no_scheduler_says_which_address_it_tried() -> None:
    result = CliRunner().invoke(
        main, ["job", "run", "-address", "http://127.0.0.1:9", str(ROOT / "jobs/job.sleep.nomad")]
    )
    assert result.exit_code == 1
    assert 'Put "http://127.0.0.1:9/v1/jobs"' in result.output
    assert "refused" in result.output


def test_the_installed_command_runs() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "yurt", "job", "validate", str(ROOT / "jobs/job.redis.nomad")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Job validation successful" in proc.stdout


def test_validate_json_job_reports_field_paths(tmp_path: Path) -> None:
    runner = CliRunner()
    out = runner.invoke(main, ["job", "run", "-output", str(ROOT / "jobs/job.redis.nomad")])
    doc = json.loads(out.output)
    good = tmp_path / "redis.json"
    good.write_text(json.dumps(doc))
    result = runner.invoke(main, ["job", "validate", "-json", str(good)])
    assert result.exit_code == 0 and "Job validation successful" in result.output
    doc["Job"]["TaskGroups"][0]["Tasks"][0]["Resources"]["MemoryMB"] = 4
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    result = runner.invoke(main, ["job", "validate", "-json", str(bad)])
    assert result.exit_code == 1
    assert (
        f'{bad}: TaskGroups[0].Tasks[0].Resources.MemoryMB: task "redis": minimum MemoryMB '
        "value is 10; got 4" in result.output
    )


def test_var_file_flag(tmp_path: Path) -> None:
    job = tmp_path / "v.nomad"
    job.write_text(
        'variable "n" {\n  type = number\n}\njob "v" {\n  group "g" {\n    count = var.n\n'
        '    task "t" {\n      driver = "exec"\n    }\n  }\n}\n'
    )
    vars_file = tmp_path / "prod.vars.hcl"
    vars_file.write_text("n = 4\n")
    result = CliRunner().invoke(
        main, ["job", "run", "-output", "-var-file", str(vars_file), str(job)]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["Job"]["TaskGroups"][0]["Count"] == 4

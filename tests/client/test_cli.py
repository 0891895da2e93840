"""`yurt client` command-line errors: bad config and bad flags are named, nothing starts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "yurt", "client", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_config_errors_name_file_line_and_key(tmp_path: Path) -> None:
    config = tmp_path / "agent.hcl"
    config.write_text('client {\n  enabled = true\n  servres = ["127.0.0.1:4646"]\n}\n')
    out = _run("-config", str(config), "-data-dir", str(tmp_path / "d"))
    assert out.returncode != 0
    assert f"{config}:3" in out.stderr
    assert 'unknown key "servres"' in out.stderr
    assert 'did you mean "servers"' in out.stderr


def test_bad_meta_flag(tmp_path: Path) -> None:
    out = _run("-meta", "novalue", "-data-dir", str(tmp_path / "d"))
    assert out.returncode == 2
    assert "'novalue': expected key=value" in out.stderr

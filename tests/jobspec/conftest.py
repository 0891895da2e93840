from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
JOBS = ROOT / "jobs"
CASES = Path(__file__).parent / "cases"
EXPECTED = Path(__file__).parent / "expected"


def load_json(path: Path) -> Any:
    return json.loads(path.read_text())

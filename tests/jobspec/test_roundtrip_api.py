"""Each block this package decodes to its API struct survives the scheduler: the job file
is parsed, registered with `PUT /v1/jobs`, and `GET /v1/job/:id` gives back every field
of the block as the canonical job has it (nothing dropped or rewritten)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.jobspec.conftest import CASES
from tests.scheduler.conftest import SchedulerProcess
from yurt.jobspec import canonicalize, parse_job


def _at(doc: dict[str, Any], path: tuple[Any, ...]) -> Any:
    value: Any = doc
    for step in path:
        value = value[step]
    return value


# (case file, the JSON paths of the blocks it exercises)
BLOCKS: list[tuple[str, list[tuple[Any, ...]]]] = [
    (
        "connect",
        [
            ("TaskGroups", 0, "Services", 0, "Connect"),
            ("TaskGroups", 1, "Services", 0, "Connect"),
            ("TaskGroups", 1, "Services", 1, "Connect"),
            ("TaskGroups", 1, "Services", 2, "Connect"),
        ],
    ),
    (
        "scaling_multiregion",
        [("Multiregion",)]
        + [("TaskGroups", 0, "Scaling", k) for k in ("Min", "Max", "Enabled", "Type")],
    ),
    (
        "task_blocks",
        [
            ("TaskGroups", 0, "Tasks", 0, key)
            for key in (
                "CSIPluginConfig",
                "Identity",
                "Identities",
                "Actions",
                "ScalingPolicies",
                "Secrets",
            )
        ],
    ),
    (
        "newer_blocks",
        [
            ("UI",),
            ("TaskGroups", 0, "Disconnect"),
            ("TaskGroups", 0, "Services", 0, "Identity"),
            ("TaskGroups", 0, "Services", 0, "Weights"),
        ],
    ),
]


# Fields that the scheduler's case-insensitive key folding (yurt.scheduler.job_keys) must
# leave alone: the user's keys inside a scaling policy's Policy map ("cpu", "source"), and
# TaskScheduleCron.Timezone, which folds like the periodic block's TimeZone.
FOLD_SENSITIVE: list[tuple[str, tuple[Any, ...]]] = [
    ("scaling_multiregion", ("TaskGroups", 0, "Scaling", "Policy")),
    ("task_blocks", ("TaskGroups", 0, "Tasks", 0, "Schedule")),
]


@pytest.fixture(scope="module")
def sched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SchedulerProcess]:
    proc = SchedulerProcess(tmp_path_factory.mktemp("roundtrip")).start()
    try:
        yield proc
    finally:
        proc.proc.stop()


def _register_and_read_back(url: str, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the canonical job, the job the scheduler gives back)."""
    path = CASES / f"{name}.nomad"
    job = parse_job(path.read_text(), path.name)
    r = requests.put(f"{url}/v1/jobs", json={"Job": job}, timeout=10)
    assert r.status_code == 200, r.text
    back = requests.get(f"{url}/v1/job/{job['ID']}", timeout=10).json()
    return canonicalize(job), back


@pytest.mark.parametrize(("name", "paths"), BLOCKS, ids=[name for name, _ in BLOCKS])
def test_blocks_survive_register_and_read_back(
    sched: SchedulerProcess, name: str, paths: list[tuple[Any, ...]]
) -> None:
    want, back = _register_and_read_back(sched.url, name)
    for p in paths:
        assert _at(want, p) is not None, p
        assert _at(back, p) == _at(want, p), p


@pytest.mark.parametrize(("name", "path"), FOLD_SENSITIVE, ids=[name for name, _ in FOLD_SENSITIVE])
def test_fields_folding_must_not_rewrite_survive(
    sched: SchedulerProcess, name: str, path: tuple[Any, ...]
) -> None:
    want, back = _register_and_read_back(sched.url, name)
    assert _at(back, path) == _at(want, path)

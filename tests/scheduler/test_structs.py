"""The typed structs cover the wire: every key of the objects yurt reads and writes (the
demo jobs as canonicalized, and the allocations, deployments, evaluations and metrics a
decision makes) is declared, with the declared nesting. A key missing from a struct would
make mypy reject code that reads it, or hide it from the checks."""

from __future__ import annotations

import random
import types
import typing
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints, is_typeddict

import pytest

from tests.scheduler import test_reconcile_table as T
from tests.scheduler.cluster import NOW
from yurt import jobspec
from yurt.scheduler import reconcile
from yurt.scheduler import structs as S

JOBS = sorted((Path(__file__).parents[2] / "jobs").glob("*.nomad"))


def undeclared(value: Any, hint: Any, where: str = "") -> list[str]:
    """The paths of keys in `value` that `hint` (a struct, possibly inside lists, dicts
    and unions) does not declare."""
    if is_typeddict(hint):
        if not isinstance(value, dict):
            return []
        hints = get_type_hints(hint)
        out = [f"{where}.{k}" for k in value if k not in hints]
        for key, inner in hints.items():
            if value.get(key) is not None:
                out += undeclared(value[key], inner, f"{where}.{key}")
        return out
    origin = get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return min(
            (undeclared(value, arm, where) for arm in get_args(hint) if arm is not type(None)),
            key=len,
            default=[],
        )
    if origin is list and isinstance(value, list):
        return [
            p
            for i, item in enumerate(value)
            for p in undeclared(item, get_args(hint)[0], f"{where}[{i}]")
        ]
    if origin is dict and isinstance(value, dict):
        inner = get_args(hint)[1]
        return [p for k, item in value.items() for p in undeclared(item, inner, f"{where}[{k}]")]
    return []


def test_the_checker_finds_an_undeclared_key() -> None:
    assert undeclared({"ID": "x", "TaskGroups": [{"Name": "g", "Nope": 1}]}, S.Job) == [
        ".TaskGroups[0].Nope"
    ]


@pytest.mark.parametrize("path", JOBS, ids=[p.name for p in JOBS])
def test_canonical_jobs_are_declared(path: Path) -> None:
    job = jobspec.canonicalize(jobspec.parse_job(path.read_text(), str(path)))
    assert undeclared(job, S.Job) == []


DECISIONS = [T.place_new, T.canary_placed, T.reschedule_now, T.reschedule_later, T.no_room]


@pytest.mark.parametrize("build", DECISIONS, ids=[b.__name__ for b in DECISIONS])
def test_what_a_decision_writes_is_declared(build: Any) -> None:
    plan = reconcile.decide(build(), NOW, rng=random.Random(1))
    for alloc in plan.allocs.values():
        assert undeclared(alloc, S.Allocation) == []
    for dep in plan.deployments.values():
        assert undeclared(dep, S.Deployment) == []
    for ev in plan.new_evals:
        assert undeclared(ev, S.Evaluation) == []
    for metrics in plan.failed_tg.values():
        assert undeclared(metrics, S.AllocMetric) == []
    assert plan.allocs or plan.new_evals or plan.failed_tg

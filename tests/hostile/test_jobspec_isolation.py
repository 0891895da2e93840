"""Job files read in a forked worker: the event loop keeps serving, a runaway is killed."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import pytest

from yurt.api.errors import APIError
from yurt.jobspec.api import parse_request, parse_request_isolated, validate_request_isolated
from yurt.jobspec.isolate import run_isolated

# Every test here forks a worker.
pytestmark = pytest.mark.process

ROOT = Path(__file__).resolve().parents[2]

# Backtracking that Python's `re` does with the GIL held: no step counter can stop it.
CATASTROPHIC = 'locals { a = regex("(a+)+$", "' + "a" * 40 + 'b") }\njob "x" {}\n'
# 1,000,000 evaluation steps: stopped by the evaluator's own budget.
CUBE = 'locals { a = [for i in range(1000): [for j in range(1000): i]] }\njob "x" {}\n'


async def _max_loop_lag(work: Awaitable[Any]) -> tuple[float, Any]:
    """Run `work` while a 5 ms ticker measures how late the loop wakes it (seconds)."""
    lags: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        while not done.is_set():
            start = time.perf_counter()
            await asyncio.sleep(0.005)
            lags.append(time.perf_counter() - start - 0.005)

    task = asyncio.create_task(ticker())
    try:
        result: Any = await work
    except APIError as exc:
        result = exc
    done.set()
    await task
    return max(lags), result


def _children() -> set[int]:
    out: set[int] = set()
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        text = (task / "children").read_text().split()
        out.update(int(p) for p in text)
    return out


async def test_a_good_job_file_reads_the_same_in_the_worker() -> None:
    text = (ROOT / "jobs" / "job.nginx.nomad").read_text()
    assert await parse_request_isolated({"JobHCL": text}) == parse_request({"JobHCL": text})


async def test_a_runaway_regex_is_killed_at_the_deadline_without_stalling_the_loop() -> None:
    before = _children()
    started = time.monotonic()
    lag, result = await _max_loop_lag(
        run_isolated(parse_request, {"JobHCL": CATASTROPHIC}, deadline=1.5)
    )
    assert isinstance(result, APIError)
    assert result.status == 400
    assert "took more than 1.5 seconds" in result.message
    assert time.monotonic() - started < 5
    assert lag < 0.1
    # Killed and reaped: no zombie left behind.
    assert _children() <= before


async def test_evaluation_budget_answers_400_with_a_position_off_the_loop() -> None:
    lag, result = await _max_loop_lag(parse_request_isolated({"JobHCL": CUBE}))
    assert isinstance(result, APIError)
    assert result.status == 400
    assert result.message.startswith("input.hcl:1:")
    assert "evaluating this file takes more than" in result.message
    assert lag < 0.1


async def test_deep_nesting_in_the_worker_is_a_400() -> None:
    text = 'job "x" {\n' + "a {\n" * 10_000 + "}\n" * 10_000 + "}\n"
    with pytest.raises(APIError) as info:
        await parse_request_isolated({"JobHCL": text})
    assert info.value.status == 400
    assert "in.hcl" not in info.value.message
    assert info.value.message == (
        "input.hcl:1001:3: brackets, braces and parentheses are nested more than 1000 deep"
    )


async def test_validate_runs_in_the_worker_too() -> None:
    answer = await validate_request_isolated({"Job": {"ID": "x", "Name": "x"}})
    assert answer["Error"]
    assert answer["ValidationErrors"]


async def test_a_worker_that_dies_is_a_500_not_a_hang() -> None:
    def die(_: object) -> None:
        os._exit(3)

    with pytest.raises(APIError) as info:
        await run_isolated(die, None, deadline=5)
    assert info.value.status == 500
    assert "died without an answer" in info.value.message


async def test_many_parses_at_once_queue_for_the_workers_and_all_answer() -> None:
    text = (ROOT / "jobs" / "job.sleep.nomad").read_text()
    answers = await asyncio.gather(*(parse_request_isolated({"JobHCL": text}) for _ in range(6)))
    assert {a["ID"] for a in answers} == {parse_request({"JobHCL": text})["ID"]}

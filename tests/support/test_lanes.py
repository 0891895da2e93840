"""The lanes: which tests the classifier sends to the process lane, and the guard that
catches a process start it missed (run through pytest itself, with pytester)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support import lanes, process
from tests.support.process import YurtProcess, free_port

# --- code for the classifier to read (never called) ---


def pure() -> int:
    return free_port()


def runs_subprocess() -> None:
    subprocess.run(["true"], check=True)


def imports_it_locally() -> None:
    import subprocess as sp

    sp.run(["true"], check=True)


def os_system() -> None:
    os.system("true")


def through_a_helper() -> None:
    runs_subprocess()


async def asyncio_exec() -> None:
    await asyncio.create_subprocess_exec("true")


def in_a_lambda() -> Callable[[], int]:
    return lambda: subprocess.call(["true"])


class Server:
    def start(self) -> None:
        os_system()


def through_a_method() -> None:
    Server().start()


def yurt_process(tmp: Path) -> None:
    YurtProcess(["version"], ready_url=None, log_path=tmp / "log").start()


def module_attribute(tmp: Path) -> None:
    process.YurtProcess(["version"], ready_url=None, log_path=tmp / "log").start()


def imports_a_helper_locally(tmp: Path) -> None:
    from tests.support.process import YurtProcess as Local

    Local(["version"], ready_url=None, log_path=tmp / "log").start()


async def in_process_server() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    server.close()


CASES: list[tuple[Callable[..., Any], str | None]] = [
    (pure, None),
    (in_process_server, None),
    (runs_subprocess, "runs_subprocess names subprocess"),
    (imports_it_locally, "imports_it_locally names subprocess"),
    (os_system, "uses os.system"),
    (through_a_helper, "runs_subprocess names subprocess"),
    (asyncio_exec, "asyncio_exec names create_subprocess_exec"),
    (in_a_lambda, "in_a_lambda names subprocess"),
    (through_a_method, "uses os.system"),
    (yurt_process, "YurtProcess.start names Popen"),
    (module_attribute, "YurtProcess.start names Popen"),
    (imports_a_helper_locally, "YurtProcess.start names Popen"),
]


@pytest.mark.parametrize(("fn", "why"), CASES, ids=[c[0].__name__ for c in CASES])
def test_classifier(fn: Callable[..., Any], why: str | None) -> None:
    found = lanes.reaches_a_process([fn])
    if why is None:
        assert found is None
    else:
        assert found is not None and why in found, found


# --- the lanes, end to end, in a pytest run inside this one ---

INNER = """
import os
import subprocess

import pytest


def test_pure():
    assert sum([1, 2]) == 3


def test_seen():
    subprocess.run(["true"], check=True)


def test_hidden():
    # The classifier cannot see this start: only the guard can.
    getattr(__import__("o" + "s"), "sys" + "tem")("true")


def test_swallowed():
    try:
        getattr(__import__("o" + "s"), "sys" + "tem")("true")
    except Exception:
        pass


@pytest.mark.process
def test_marked():
    getattr(__import__("o" + "s"), "sys" + "tem")("true")


@pytest.mark.slow
def test_slow():
    assert sorted([2, 1]) == [1, 2]
"""


# Hypothesis's plugin imports its engine at the end of each inner session: seconds, for nothing.
INNER_ARGS = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest")


@pytest.fixture
def tree(pytester: pytest.Pytester) -> pytest.Pytester:
    """A test tree with this suite's lanes (its conftest's hooks) and markers."""
    pytester.makeconftest("from tests.conftest import *  # noqa: F403\n")
    pytester.makeini(
        textwrap.dedent(
            """
            [pytest]
            markers =
                process: starts a process
                e2e: end to end
                slow: slow
            asyncio_default_fixture_loop_scope = function
            """
        )
    )
    return pytester


@pytest.fixture
def inner(tree: pytest.Pytester) -> pytest.Pytester:
    tree.makepyfile(test_inner=INNER)
    return tree


def test_fast_lane_deselects_and_fails_the_starts_it_did_not_expect(
    inner: pytest.Pytester,
) -> None:
    result = inner.runpytest_inprocess(*INNER_ARGS, "--lane=fast")
    result.assert_outcomes(passed=1, failed=2, deselected=3)
    out = result.stdout.str()
    assert (
        "test_inner.py::test_hidden started a process (os.system('true')) in the fast lane" in out
    )
    assert "test_inner.py::test_swallowed started a process" in out
    assert result.ret == pytest.ExitCode.TESTS_FAILED


@pytest.mark.process  # the inner tests really run `true`
def test_full_lane_runs_everything_and_lists_the_unmarked_starts(inner: pytest.Pytester) -> None:
    result = inner.runpytest_inprocess(*INNER_ARGS, "--lane=all")
    result.assert_outcomes(passed=6)
    section = result.stdout.str().split("without the `process` marker")[1]
    assert "test_inner.py::test_hidden: os.system('true')" in section
    assert "test_inner.py::test_swallowed: os.system('true')" in section
    assert "test_seen" not in section and "test_marked" not in section


def test_a_lane_that_selects_nothing_is_exit_code_5(tree: pytest.Pytester) -> None:
    tree.makepyfile(
        test_only_processes="import subprocess\n\ndef test_x():\n    subprocess.run(['true'])\n"
    )
    result = tree.runpytest_inprocess(*INNER_ARGS, "--lane=fast")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED


@dataclass
class FakeItem:
    nodeid: str


def test_the_guard_records_each_start_and_passes_the_command_through() -> None:
    guard = lanes.SpawnGuard(enforce=False, allowed=lambda item: False)
    before = (os.system, subprocess.Popen._execute_child)  # type: ignore[attr-defined]
    guard.install()
    try:
        guard.current = FakeItem("t::a")
        # A generator is read once by the guard and handed on as a list.
        command = (arg for arg in ["sh", "-c", "exit 3"])
        done = subprocess.run(command, check=False)  # type: ignore[call-overload]
        os.system("exit 0")
    finally:
        guard.uninstall()
    assert done.returncode == 3
    assert [(s.nodeid, s.what) for s in guard.starts] == [
        ("t::a", "sh -c exit 3"),
        ("t::a", "os.system('exit 0')"),
    ]
    assert (os.system, subprocess.Popen._execute_child) == before  # type: ignore[attr-defined]


def test_an_enforcing_guard_refuses_before_anything_runs(tmp_path: Path) -> None:
    guard = lanes.SpawnGuard(enforce=True, allowed=lambda item: item.nodeid == "t::ok")
    marker = tmp_path / "ran"
    guard.install()
    try:
        guard.current = FakeItem("t::fast")
        with pytest.raises(lanes.ProcessInFastLane, match="t::fast started a process"):
            subprocess.run(["touch", str(marker)], check=True)
    finally:
        guard.uninstall()
    assert not marker.exists()
    assert guard.starts_of("t::fast")[0].what == f"touch {marker}"


def test_the_process_lane_is_the_rest_and_says_why(inner: pytest.Pytester) -> None:
    result = inner.runpytest_inprocess(*INNER_ARGS, "--lane=process", "--collect-only", "-v")
    out = result.stdout.str()
    assert "test_inner.py:11 test_seen names subprocess" in out
    assert "test_inner.py::test_marked: marked process" in out
    assert "test_inner.py::test_slow: marked slow" in out
    assert "3/6 tests collected (3 deselected)" in out

from __future__ import annotations

from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from tests.support import lanes
from tests.support.process import free_port

pytest_plugins = ("pytester",)  # tests/support/test_lanes.py runs pytest inside a test


@pytest.fixture
def port() -> int:
    return free_port()


# --- the lanes (tests/support/lanes.py says what they are and how tests are sorted) ---

E2E_DIR = Path(__file__).parent / "e2e"
_GUARD = pytest.StashKey[lanes.SpawnGuard]()


def _may_start_processes(item: pytest.Item) -> bool:
    return item.get_closest_marker("process") is not None


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--lane",
        choices=("all", "fast", "process"),
        default="all",
        help="fast: the tests that start no process and are not marked slow (make test-fast); "
        "process: the others (with -v, each with the reason); all: every test",
    )


def pytest_configure(config: pytest.Config) -> None:
    fast = config.getoption("--lane") == "fast"
    guard = lanes.SpawnGuard(enforce=fast, allowed=_may_start_processes)
    guard.install()
    config.stash[_GUARD] = guard


def pytest_unconfigure(config: pytest.Config) -> None:
    guard = config.stash.get(_GUARD, None)
    if guard is not None:
        guard.uninstall()


@pytest.hookimpl(tryfirst=True)  # before `-m` selects on the markers set here
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    classifier = lanes.Classifier({Path(str(i.path)).parent for i in items})
    for item in items:
        if Path(str(item.path)).is_relative_to(E2E_DIR):
            item.add_marker(pytest.mark.e2e)
            item.add_marker(pytest.mark.process(reason="an end-to-end test"))
        elif item.get_closest_marker("process") is None:
            why = classifier.why(lanes.roots_of(item))
            if why is not None:
                item.add_marker(pytest.mark.process(reason=why))
    lane = config.getoption("--lane")
    if lane != "all":
        slow = {i for i in items if _may_start_processes(i) or i.get_closest_marker("slow")}
        drop = [i for i in items if (i in slow) == (lane == "fast")]
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = [i for i in items if (i in slow) != (lane == "fast")]


def pytest_report_collectionfinish(config: pytest.Config, items: list[pytest.Item]) -> list[str]:
    if config.getoption("--lane") != "process" or config.option.verbose <= 0:
        return []
    lines = []
    for item in items:
        mark = item.get_closest_marker("process")
        why = (mark.kwargs.get("reason") or "marked process") if mark else "marked slow"
        lines.append(f"{item.nodeid}: {why}")
    return lines


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    guard = item.config.stash[_GUARD]
    guard.current = item
    try:
        return (yield)
    finally:
        guard.current = None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    guard = item.config.stash[_GUARD]
    starts = guard.starts_of(item.nodeid) if guard.enforce else []
    # A start the code under test caught and hid still fails the test.
    if starts and report.passed and call.when == "call":
        report.outcome = "failed"
        report.longrepr = lanes.message(item.nodeid, starts[0].what)
    return report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    guard = terminalreporter.config.stash.get(_GUARD, None)
    if guard is None or guard.enforce or not guard.starts:
        return
    terminalreporter.section("tests that started a process without the `process` marker")
    seen: set[str] = set()
    for start in guard.starts:
        if start.nodeid not in seen:
            seen.add(start.nodeid)
            terminalreporter.line(f"{start.nodeid}: {start.what}")
    terminalreporter.line(
        "`make test-fast` fails these: mark them `process` (tests/support/lanes.py says why)."
    )


# Property tests explore new inputs on every developer run; in CI (CI=true) they replay the same
# derandomized examples, so that a new finding shows up on a developer's machine rather than
# turning a submission red at random.
def _hypothesis_profile() -> None:
    import os

    from hypothesis import settings

    settings.register_profile("ci", derandomize=True, database=None)
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        settings.load_profile("ci")


_hypothesis_profile()

"""The test lanes: `make test-fast` runs every test that starts no process (and is not marked
`slow`: an in-process test that takes seconds), `make test` all of them.

A test "starts a process" when it, a fixture it uses, or a helper in `tests/` that either of
them calls, runs a child process: `subprocess`, `asyncio.create_subprocess_*`, `os.fork`/
`os.system`/`os.posix_spawn`, `multiprocessing`, `pty`, Playwright (Chromium), and so the
`yurt` processes of `tests/support/process.py`, Podman, nginx, redis and the end-to-end runs.
A server that a test runs inside its own event loop on loopback does not count: it starts in
milliseconds and needs nothing from the machine, and those are what the fast lane is about.

`pytest --lane=process --collect-only -q -v` lists the process tests, each with the reason.

The classification is automatic, so that a new test file needs no marker:

1. `Classifier` follows the code a test can reach through names (the test function, the
   fixtures in its closure, and the functions and classes of `tests/` that they name,
   transitively) and marks the test `process` when that code names a way to start one. It
   does not descend into `src/`: a test that makes yurt itself start a process (an in-process
   client running a raw_exec task) is found by step 2 and then marked by hand.
2. `SpawnGuard` watches every process start while the tests run. In the fast lane a test that
   starts one fails at once, naming the command and the marker to add; in the full lane such
   a test passes and is listed in the summary, so CI shows the misclassification.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import inspect
import os
import subprocess
import sys
import threading
import types
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TESTS_DIR = Path(__file__).resolve().parents[1]

# Names that, wherever they appear in reachable code (global, attribute or local import),
# mean a child process. Kept to names unlikely to mean anything else.
SPAWN_NAMES = frozenset(
    {
        "subprocess",
        "Popen",
        "create_subprocess_exec",
        "create_subprocess_shell",
        "multiprocessing",
        "forkpty",
        "posix_spawn",
        "posix_spawnp",
        "sync_playwright",
        "async_playwright",
        "pexpect",
    }
)
# Modules whose functions and classes start processes when called.
SPAWN_MODULES = ("subprocess", "asyncio.subprocess", "multiprocessing", "pty", "playwright")
# `os` functions that start processes; matched by identity, as `os.system` is named `system`.
OS_SPAWN_NAMES = (
    "fork",
    "forkpty",
    "system",
    "popen",
    "posix_spawn",
    "posix_spawnp",
    "spawnv",
    "spawnve",
    "spawnvp",
    "spawnvpe",
    "spawnl",
    "spawnle",
    "spawnlp",
    "spawnlpe",
)
_OS_SPAWN = {id(getattr(os, n)): f"os.{n}" for n in OS_SPAWN_NAMES if hasattr(os, n)}


def _in_spawn_module(module: str | None) -> bool:
    return module is not None and any(
        module == m or module.startswith(m + ".") for m in SPAWN_MODULES
    )


def _source_file(obj: object) -> str | None:
    code = getattr(obj, "__code__", None)
    if isinstance(code, types.CodeType):
        return code.co_filename
    module = sys.modules.get(getattr(obj, "__module__", None) or "")
    path = getattr(module, "__file__", None)
    return path if isinstance(path, str) else None


def _spawner(obj: object) -> str | None:
    """The name of a process starter from outside the test tree (subprocess.run, os.system,
    the subprocess module, Playwright's objects), or None."""
    if isinstance(obj, types.ModuleType):
        return f"module {obj.__name__}" if _in_spawn_module(obj.__name__) else None
    # os.system by identity; under the guard, os.system is its wrapper, named so.
    known = _OS_SPAWN.get(id(obj)) or getattr(obj, "__lanes_spawns__", None)
    if isinstance(known, str):
        return known
    module = getattr(obj, "__module__", None)
    if callable(obj) and _in_spawn_module(module):
        return f"{module}.{getattr(obj, '__qualname__', None) or type(obj).__name__}"
    return None


def _code_objects(code: types.CodeType) -> Iterator[types.CodeType]:
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_objects(const)


def _label(obj: object) -> str:
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None) or repr(obj)
    code = getattr(obj, "__code__", None)
    if isinstance(code, types.CodeType):
        try:
            where = Path(code.co_filename).resolve().relative_to(TESTS_DIR.parent)
        except ValueError:
            where = Path(code.co_filename)
        return f"{where}:{code.co_firstlineno} {name}"
    return str(name)


@dataclass
class _Node:
    """One function or class of the test tree: why it starts a process itself, if it does,
    and the functions and classes of the test tree that it names."""

    why: str | None
    refs: list[object]


class _Graph:
    """The test tree's code as a graph, each node read once for the whole session.

    It reads only code under `dirs` (the test tree): not src/, not installed packages.
    """

    def __init__(self, dirs: tuple[Path, ...]) -> None:
        self.dirs = dirs
        self.nodes: dict[int, _Node] = {}
        self.keep: list[object] = []  # holds the objects so that their ids stay theirs
        self.ours: dict[str, bool] = {}  # by file name: resolving paths is most of the cost

    def _is_ours(self, obj: object) -> bool:
        name = _source_file(obj)
        if name is None:
            return False
        if name not in self.ours:
            path = Path(name).resolve()
            self.ours[name] = any(path.is_relative_to(d) for d in self.dirs)
        return self.ours[name]

    def search(self, root: object) -> str | None:
        """Why `root` reaches a process start, or None (breadth first: the nearest reason)."""
        queue, seen = [_unwrap(root)], set()
        for obj in queue:
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            node = self.node(obj)
            if node.why is not None:
                return node.why
            queue.extend(node.refs)
        return None

    def node(self, obj: object) -> _Node:
        if id(obj) not in self.nodes:
            try:
                node = self._read(obj)
            except Exception:  # an object that breaks on introspection starts nothing of ours
                node = _Node(None, [])
            self.keep.append(obj)
            self.nodes[id(obj)] = node
        return self.nodes[id(obj)]

    def _read(self, obj: object) -> _Node:
        spawner = _spawner(obj)
        if spawner is not None:
            return _Node(f"uses {spawner}", [])
        if not self._is_ours(obj):
            return _Node(None, [])
        if isinstance(obj, types.FunctionType):
            return self._function(obj)
        if isinstance(obj, type):
            members = [
                _unwrap(fn)
                for klass in obj.__mro__
                if klass is not object and self._is_ours(klass)
                for member in vars(klass).values()
                for fn in _functions_of(member)
            ]
            return _Node(None, members)
        if isinstance(obj, types.ModuleType):
            return _Node(None, [])  # reached by attribute, in _function
        return _Node(None, [type(obj)])  # a module-level instance of one of our classes

    def _function(self, fn: types.FunctionType) -> _Node:
        refs: list[object] = []
        for code in _code_objects(fn.__code__):
            names = code.co_names
            hit = SPAWN_NAMES.intersection(names)
            if hit:
                return _Node(f"{_label(fn)} names {sorted(hit)[0]}", [])
            modules = [m for n in names if (m := _module(fn, n)) is not None]
            for name in names:
                targets = [fn.__globals__.get(name)]
                # `module.attr`: the attribute names sit next to the module's in co_names.
                targets += [getattr(m, name, None) for m in modules]
                for target in targets:
                    if target is None:
                        continue
                    target = _unwrap(target)
                    spawner = _spawner(target)
                    if spawner is not None:
                        return _Node(f"{_label(fn)} uses {spawner}", [])
                    if not isinstance(target, types.ModuleType) and self._is_ours(target):
                        refs.append(target)
        return _Node(None, refs)


def _module(fn: types.FunctionType, name: str) -> types.ModuleType | None:
    """The module `name` means in `fn`: a global, or a local `from tests.x import y`
    (whose module co_names holds by its dotted name, maybe not imported yet)."""
    found = fn.__globals__.get(name)
    if isinstance(found, types.ModuleType):
        return found
    if name in sys.modules:
        return sys.modules[name]
    if name.startswith(f"{TESTS_DIR.name}."):
        try:
            return importlib.import_module(name)
        except Exception:  # not a module (or a broken one: its tests say so when they run)
            return None
    return None


def _unwrap(obj: object) -> object:
    if isinstance(obj, (staticmethod, classmethod)):
        obj = obj.__func__
    if isinstance(obj, types.MethodType):
        obj = obj.__func__
    if callable(obj) and not isinstance(obj, type):
        with contextlib.suppress(ValueError):
            obj = inspect.unwrap(obj)
    return obj


def _functions_of(member: object) -> Iterator[object]:
    if isinstance(member, property):
        yield from (f for f in (member.fget, member.fset, member.fdel) if f is not None)
    elif isinstance(member, (staticmethod, classmethod, types.FunctionType)):
        yield member


class Classifier:
    """Says why a test can start a process, reading the code under `dirs` (by default the
    test tree); remembers each fixture's answer, as most tests share their fixtures."""

    def __init__(self, dirs: Iterable[Path] = ()) -> None:
        self.graph = _Graph((TESTS_DIR, *(d.resolve() for d in dirs)))
        self.known: dict[int, str | None] = {}

    def why(self, roots: Iterable[object]) -> str | None:
        """Why one of `roots` (a test function, its fixtures' functions) can start one."""
        for root in roots:
            if id(root) not in self.known:
                self.graph.keep.append(root)
                self.known[id(root)] = self.graph.search(root)
            why = self.known[id(root)]
            if why is not None:
                return why
        return None


def reaches_a_process(roots: Iterable[object]) -> str | None:
    return Classifier().why(roots)


def roots_of(item: Any) -> list[object]:
    """The test function and the functions of every fixture in its closure."""
    roots: list[object] = []
    fn = getattr(item, "function", None)
    if fn is not None:
        roots.append(fn)
    info = getattr(item, "_fixtureinfo", None)
    for defs in getattr(info, "name2fixturedefs", {}).values():
        roots.extend(d.func for d in defs)
    return roots


# --- the guard: every process start while a test runs ---


@dataclass
class Start:
    nodeid: str
    what: str


@dataclass
class SpawnGuard:
    """Sees every child process started through subprocess/asyncio, os.fork/spawn/system.

    `enforce`: a test not allowed to start processes (`allowed(item)` false) gets a
    `ProcessInFastLane` at the call, and is failed afterwards even if it swallowed it.
    """

    enforce: bool
    allowed: Callable[[Any], bool]
    current: Any = None
    starts: list[Start] = field(default_factory=list)
    _undo: list[Callable[[], None]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def install(self) -> None:
        popen = subprocess.Popen
        real_child = popen._execute_child  # type: ignore[attr-defined]

        def execute_child(p: Any, args: Any, *rest: Any, **kw: Any) -> Any:
            if not isinstance(args, (str, bytes, os.PathLike)):
                args = list(args)  # once: an iterator read here would reach Popen empty
            self.seen(args)
            return real_child(p, args, *rest, **kw)

        popen._execute_child = execute_child  # type: ignore[attr-defined]
        self._undo.append(lambda: setattr(popen, "_execute_child", real_child))
        for name in OS_SPAWN_NAMES:
            real = getattr(os, name, None)
            if real is None or name == "popen":  # os.popen goes through subprocess.Popen
                continue
            os_wrapper = self._wrap_os(name, real)
            setattr(os, name, os_wrapper)
            self._undo.append(functools.partial(setattr, os, name, real))

    def _wrap_os(self, name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kw: Any) -> Any:  # marked for the classifier below
            self.seen(f"os.{name}({', '.join(repr(a) for a in args[:2])})")
            return real(*args, **kw)

        wrapper.__lanes_spawns__ = f"os.{name}"  # type: ignore[attr-defined]
        return wrapper

    def uninstall(self) -> None:
        while self._undo:
            self._undo.pop()()

    def seen(self, command: object) -> None:
        item = self.current
        if item is None or self.allowed(item):
            return
        what = _command(command)
        with self._lock:
            self.starts.append(Start(item.nodeid, what))
        if self.enforce:
            raise ProcessInFastLane(message(item.nodeid, what))

    def starts_of(self, nodeid: str) -> list[Start]:
        with self._lock:
            return [s for s in self.starts if s.nodeid == nodeid]


class ProcessInFastLane(RuntimeError):
    pass


def _command(command: object) -> str:
    text = " ".join(str(a) for a in command) if isinstance(command, list) else str(command)
    return text if len(text) <= 160 else text[:157] + "..."


def message(nodeid: str, what: str) -> str:
    return (
        f"{nodeid} started a process ({what}) in the fast lane.\n"
        "The lane classifier (tests/support/lanes.py) did not see it: it is reached through "
        "src/ or a dynamic call. Mark the test `@pytest.mark.process`, or its module with "
        "`pytestmark = pytest.mark.process`."
    )

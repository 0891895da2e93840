"""The pure core imports alone: the scheduler's decisions, the routing table and job files
load neither aiohttp nor sqlite3 (package `__init__`s are lazy, PEP 562), while every name
the packages re-export stays importable from them."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

HEAVY = ("aiohttp", "sqlite3", "_sqlite3")

PURE = (
    "yurt.scheduler.structs",
    "yurt.scheduler.placement",
    "yurt.scheduler.reconcile",
    "yurt.router.table",
    "yurt.jobspec",
    "yurt.api.durations",
    "yurt.api.casing",
)


def heavy_modules_after(module: str) -> list[str]:
    """The heavy modules loaded by a fresh interpreter that imports `module` alone."""
    code = (
        f"import importlib, json, sys; importlib.import_module({module!r}); "
        f"print(json.dumps(sorted(m for m in sys.modules if m in {HEAVY!r})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=60
    )
    loaded: list[str] = json.loads(out.stdout)
    return loaded


@pytest.mark.parametrize("module", PURE)
def test_pure_module_loads_no_server_dependency(module: str) -> None:
    assert heavy_modules_after(module) == []


@pytest.mark.parametrize(
    ("module", "heavy"), [("yurt.api.http", "aiohttp"), ("yurt.storage.sqlite", "sqlite3")]
)
def test_the_check_sees_heavy_imports(module: str, heavy: str) -> None:
    # The check above would pass vacuously if it could not see these loaded.
    assert heavy in heavy_modules_after(module)


EXPORTS = {
    "yurt.api": ("APIError", "WatchHub", "blocking_query", "fold", "parse_go_duration"),
    "yurt.catalog": ("CatalogConfig", "CatalogServer"),
    "yurt.scheduler": ("SchedulerConfig", "SchedulerServer"),
    "yurt.client": ("ClientAgent", "ClientConfig"),
    "yurt.router": ("Router", "RouterConfig", "Table", "parse", "service_commands"),
    "yurt.storage": ("Database",),
    "yurt.ui": ("Shell", "add_shell_routes"),
}


@pytest.mark.parametrize("package", sorted(EXPORTS))
def test_lazy_exports_resolve(package: str) -> None:
    module = importlib.import_module(package)
    for name in EXPORTS[package]:
        assert name in module.__all__
        value = getattr(module, name)
        assert getattr(value, "__name__", name) == name
    assert not hasattr(module, "NoSuchName")

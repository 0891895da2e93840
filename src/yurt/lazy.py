"""Lazy package exports (PEP 562): a package `__init__` names what it re-exports and where
each name lives, and the module holding it loads on first use.

This keeps `import yurt.scheduler.placement` or `import yurt.api.durations` from loading the
servers, aiohttp or sqlite3 through their packages' `__init__`s, while
`from yurt.scheduler import SchedulerServer` works as before.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Mapping


def load(package: str, exports: Mapping[str, str], name: str) -> object:
    """The export `name` of `package`, imported from its module and cached in the package,
    so that the next access is a plain attribute read."""
    module = exports.get(name)
    if module is None:
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    setattr(sys.modules[package], name, value)
    return value

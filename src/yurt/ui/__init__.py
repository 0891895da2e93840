"""The web UIs' shared parts: one stylesheet, one small JS helper (DOM, router, blocking-query
watches, formatting) and the HTML shell every page starts from.

Each component's UI package (`yurt.scheduler.ui`, `yurt.catalog.ui`, `yurt.router.ui`) ships
its own JS next to these and exposes `add_routes(app)`. Pages render in the browser from the
component's public HTTP API, so they work the same against the real products' APIs.
The shell's names load lazily (it needs aiohttp and jinja2).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from yurt import lazy

if TYPE_CHECKING:
    from yurt.ui.shell import Nav, Shell, add_shell_routes

_EXPORTS = {"Nav": "yurt.ui.shell", "Shell": "yurt.ui.shell", "add_shell_routes": "yurt.ui.shell"}

__all__ = ["Nav", "Shell", "add_shell_routes"]


def __getattr__(name: str) -> object:
    return lazy.load(__name__, _EXPORTS, name)

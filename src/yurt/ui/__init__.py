"""The web UIs' shared parts: one stylesheet, one small JS helper (DOM, router, blocking-query
watches, formatting) and the HTML shell every page starts from.

Each component's UI package (`yurt.scheduler.ui`, `yurt.catalog.ui`, `yurt.router.ui`) ships
its own JS next to these and exposes `add_routes(app)`. Pages render in the browser from the
component's public HTTP API, so they work the same against the real products' APIs.
"""

from __future__ import annotations

from yurt.ui.shell import Nav, Shell, add_shell_routes

__all__ = ["Nav", "Shell", "add_shell_routes"]

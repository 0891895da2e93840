"""The scheduler's web UI at /ui/ (Nomad's URL scheme): jobs, task groups, allocations,
evaluations, clients, topology and a run-a-job page, rendered in the browser from Nomad's
HTTP API."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from yurt.ui import Shell, add_shell_routes

SHELL = Shell(
    product="scheduler",
    home="/ui/jobs",
    assets="/ui/assets",
    static_dir=Path(__file__).parent / "static",
    app_js="scheduler.js",
    nav=(
        ("/ui/jobs", "Jobs"),
        ("/ui/evaluations", "Evaluations"),
        ("/ui/clients", "Clients"),
        ("/ui/topology", "Topology"),
        ("/ui/settings/tokens", "ACL Tokens"),
    ),
    noscript="Jobs are at /v1/jobs, allocations at /v1/allocations, clients at /v1/nodes.",
)


def add_routes(app: web.Application) -> None:
    """Serve the UI's pages and files; `/` and `/ui/` lead to the jobs list, as in Nomad."""
    add_shell_routes(
        app,
        SHELL,
        redirects=(("/", "/ui/"), ("/ui", "/ui/"), ("/ui/", "/ui/jobs")),
        pages=("/ui/{page:(jobs|clients|allocations|topology|evaluations|settings).*}",),
    )

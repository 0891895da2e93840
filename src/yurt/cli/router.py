"""`yurt router`: the Fabio role, configured as Fabio is (flags, FABIO_* variables, -cfg file)."""

from __future__ import annotations

import os
import sys

import click

from yurt.router.config import PROPERTIES, ConfigError, load


def _help() -> str:
    lines = [
        "Usage: yurt router [-cfg fabio.properties] [-<property> <value> ...]",
        "",
        "Fabio's properties, as flags (-proxy.addr :9999), FABIO_* environment variables",
        "(FABIO_proxy_addr) or lines of the -cfg properties file. Precedence:",
        "flags > environment > file > defaults.",
        "",
    ]
    width = max(len(k) for k in PROPERTIES) + 2
    for key, (default, text) in PROPERTIES.items():
        lines.append(f"  -{key.ljust(width)}{text} (default {default!r})")
    return "\n".join(lines)


@click.command(
    context_settings={"ignore_unknown_options": True, "help_option_names": []},
    add_help_option=False,
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def router(args: tuple[str, ...]) -> None:
    """Run the router (Fabio): proxy on :9999, UI and API on :9998."""
    if any(a in ("-h", "-help", "--help") for a in args):
        click.echo(_help())
        return
    try:
        config = load(list(args), os.environ)
    except ConfigError as exc:
        click.echo(f"yurt router: {exc}", err=True)
        sys.exit(2)

    from yurt.router.server import Router
    from yurt.runtime import run, serve_until_signal

    async def main() -> None:
        await serve_until_signal([Router(config)])

    run(main)

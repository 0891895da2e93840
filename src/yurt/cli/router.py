"""`yurt router`: the Fabio role, configured as Fabio is (flags, FABIO_* variables, -cfg file)."""

from __future__ import annotations

import os
import ssl
import sys

import click

from yurt.router.config import (
    PROPERTIES,
    ConfigError,
    env_properties,
    load,
    parse_flags,
    parse_ui_listener,
)


def _help() -> str:
    lines = [
        "Usage: yurt router [-cfg fabio.properties] [-<property> <value> ...]",
        "       yurt router routes [-ui.addr host:port]",
        "",
        "`yurt router routes` prints a running router's table as `route add` lines.",
        "",
        "Fabio's properties, as flags (-proxy.addr :9999), FABIO_* environment variables",
        "(FABIO_proxy_addr) or lines of the -cfg properties file. Precedence:",
        "flags > environment > file > defaults.",
        "",
    ]
    # Go's flag package layout, as `fabio -help` prints it.
    for key, (default, text) in PROPERTIES.items():
        lines.append(f"  -{key}")
        lines.append(f"    \t{text}" + (f' (default "{default}")' if default else ""))
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
    if args[:1] == ("routes",):
        _print_routes(args[1:])
        return
    try:
        config = load(list(args), os.environ)
    except ConfigError as exc:
        click.echo(f"yurt router: {exc}", err=True)
        sys.exit(2)

    from yurt.router.process import announce_ready, follow_parent
    from yurt.router.server import Router
    from yurt.runtime import run, serve_until_signal

    follow_parent(os.environ)  # run by `yurt up`: ends with it

    async def main() -> None:
        await serve_until_signal([Router(config)], on_ready=lambda: announce_ready(os.environ))

    run(main)


def _print_routes(args: tuple[str, ...]) -> None:
    """The table of a running router, from its API (`/api/routes?raw`)."""
    import urllib.error
    import urllib.request

    try:
        props, _ = parse_flags(list(args))
    except ConfigError as exc:
        click.echo(f"yurt router routes: {exc}", err=True)
        sys.exit(2)
    addr = props.get("ui.addr") or env_properties(os.environ).get("ui.addr") or ":9998"
    try:
        ui = parse_ui_listener(addr)
    except ConfigError as exc:
        click.echo(f"yurt router routes: {exc}", err=True)
        sys.exit(2)
    host = "127.0.0.1" if ui.host in ("", "0.0.0.0", "::") else ui.host
    tls = None
    if ui.cs:
        # The router's own UI, over TLS: its certificate source may be self-signed.
        tls = ssl.create_default_context()
        tls.check_hostname = False
        tls.verify_mode = ssl.CERT_NONE
    url = f"{'https' if ui.cs else 'http'}://{host}:{ui.port}/api/routes?raw"
    try:
        with urllib.request.urlopen(url, timeout=10, context=tls) as resp:
            text = resp.read().decode()
    except (urllib.error.URLError, OSError) as exc:
        click.echo(f"yurt router routes: cannot read {url}: {exc}", err=True)
        sys.exit(1)
    click.echo(text, nl=False)

"""`yurt services`: list the catalog's services, register and deregister local ones, as
`consul services register|deregister` and `consul catalog services` do."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from yurt.cli._consul_http import http_addr_option, request
from yurt.cli.catalog import list_services

_CONTEXT = {"help_option_names": ["-h", "-help", "--help"]}


@click.group("services", invoke_without_command=True, context_settings=_CONTEXT)
@http_addr_option
@click.option("-tags", "--tags", "show_tags", is_flag=True, help="Show each service's tags.")
@click.option("-health", "--health", "health", is_flag=True, help="Show each instance's health.")
@click.pass_context
def services(ctx: click.Context, http_addr: str | None, show_tags: bool, health: bool) -> None:
    """List the services (or `register` / `deregister` one on the catalog's node)."""
    ctx.ensure_object(dict)
    ctx.obj["http_addr"] = http_addr
    if ctx.invoked_subcommand is None:
        list_services(http_addr, show_tags=show_tags, node=None, health=health)


def _definitions(path: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise click.ClickException(f"Error reading {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise click.ClickException(f"{path}:{exc.lineno}:{exc.colno}: {exc.msg}") from None
    if not isinstance(data, dict):
        raise click.ClickException(f"{path}: expected a JSON object")
    found: list[dict[str, Any]] = []
    for key, value in data.items():
        if key.lower() == "service" and isinstance(value, dict):
            found.append(value)
        elif key.lower() == "services" and isinstance(value, list):
            found.extend(v for v in value if isinstance(v, dict))
    if not found:
        raise click.ClickException(f'{path}: no "service" or "services" definition found')
    return found


def _addr(ctx: click.Context, own: str | None) -> str | None:
    parent = ctx.obj.get("http_addr") if isinstance(ctx.obj, dict) else None
    return own or (parent if isinstance(parent, str) else None)


@services.command("register")
@http_addr_option
@click.option("-name", "--name", default=None, help="Service name (instead of a file).")
@click.option("-id", "--id", "service_id", default=None, help="Service ID (default: the name).")
@click.option("-address", "--address", default=None)
@click.option("-port", "--port", type=int, default=None)
@click.option("-tag", "--tag", "tags", multiple=True, help="A tag; repeatable.")
@click.option("-meta", "--meta", "meta", multiple=True, help="KEY=VALUE; repeatable.")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path, dir_okay=False))
@click.pass_context
def register(
    ctx: click.Context,
    http_addr: str | None,
    name: str | None,
    service_id: str | None,
    address: str | None,
    port: int | None,
    tags: tuple[str, ...],
    meta: tuple[str, ...],
    files: tuple[Path, ...],
) -> None:
    """Register services from JSON definition FILES, or one given by flags."""
    addr = _addr(ctx, http_addr)
    if files and name:
        raise click.UsageError("Give either definition files or -name, not both")
    definitions: list[dict[str, Any]] = []
    if name:
        body: dict[str, Any] = {"Name": name, "Tags": list(tags)}
        if service_id:
            body["ID"] = service_id
        if address:
            body["Address"] = address
        if port is not None:
            body["Port"] = port
        if meta:
            pairs = {}
            for item in meta:
                key, sep, value = item.partition("=")
                if not sep:
                    raise click.BadParameter(f"{item!r}: expected KEY=VALUE", param_hint="-meta")
                pairs[key] = value
            body["Meta"] = pairs
        definitions.append(body)
    for path in files:
        definitions.extend(_definitions(path))
    if not definitions:
        raise click.UsageError("Give a definition file or -name")
    for definition in definitions:
        request(addr, "PUT", "/v1/agent/service/register", body=json.dumps(definition).encode())
        shown = next((v for k, v in definition.items() if k.lower() == "name"), "?")
        click.echo(f"Registered service: {shown}")


@services.command("deregister")
@http_addr_option
@click.option("-id", "--id", "service_id", default=None, help="The ID of the service.")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path, dir_okay=False))
@click.pass_context
def deregister(
    ctx: click.Context, http_addr: str | None, service_id: str | None, files: tuple[Path, ...]
) -> None:
    """Deregister the service -id, or the services defined in FILES."""
    addr = _addr(ctx, http_addr)
    ids: list[str] = [service_id] if service_id else []
    for path in files:
        for definition in _definitions(path):
            folded = {k.lower(): v for k, v in definition.items()}
            ids.append(str(folded.get("id") or folded.get("name")))
    if not ids:
        raise click.UsageError("Give -id or a definition file")
    for sid in ids:
        request(addr, "PUT", f"/v1/agent/service/deregister/{sid}")
        click.echo(f"Deregistered service: {sid}")

"""`yurt service list|info|delete`: Nomad's native service registrations, formatted as
`nomad service ...` prints them (its `command/service_*.go`)."""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import quote

import click

from yurt.cli.common import address_option, client, nomad_command
from yurt.cli.output import format_kv, format_list, limit

Obj = dict[str, Any]
_SHORT_ID = 8


def _tags(tags: list[str] | None) -> str:
    return "[" + ",".join(tags or []) + "]"


def format_service_list(stubs: list[Obj], all_namespaces: bool) -> str:
    """The table of `nomad service list`: a Namespace column only for `-namespace=*`."""
    header = ["Service Name", *(["Namespace"] if all_namespaces else []), "Tags"]
    rows = [header]
    for group in sorted(stubs, key=lambda g: str(g.get("Namespace"))):
        for stub in sorted(group.get("Services") or [], key=lambda s: str(s["ServiceName"])):
            ns = [str(group.get("Namespace"))] if all_namespaces else []
            rows.append([str(stub["ServiceName"]), *ns, _tags(sorted(stub.get("Tags") or []))])
    return format_list(rows)


def _by_job(regs: list[Obj]) -> list[Obj]:
    """Nomad sorts a service's registrations by job ID (several jobs may share a name)."""
    return sorted(regs, key=lambda r: str(r.get("JobID")))


def format_service_info(regs: list[Obj], verbose: bool) -> str:
    if verbose:
        blocks = []
        for reg in _by_job(regs):
            pairs = [
                ("ID", str(reg["ID"])),
                ("Service Name", str(reg["ServiceName"])),
                ("Namespace", str(reg["Namespace"])),
                ("Job ID", str(reg["JobID"])),
                ("Alloc ID", str(reg["AllocID"])),
                ("Node ID", str(reg["NodeID"])),
                ("Datacenter", str(reg["Datacenter"])),
                ("Address", f"{reg['Address']}:{reg['Port']}"),
                ("Tags", _tags(reg.get("Tags"))),
            ]
            blocks.append(format_kv(pairs) + "\n")
        return "\n\n".join(blocks)
    rows = [["Job ID", "Address", "Tags", "Node ID", "Alloc ID"]]
    for reg in _by_job(regs):
        rows.append(
            [
                str(reg["JobID"]),
                f"{reg['Address']}:{reg['Port']}",
                _tags(reg.get("Tags")),
                limit(str(reg["NodeID"]), _SHORT_ID),
                limit(str(reg["AllocID"]), _SHORT_ID),
            ]
        )
    return format_list(rows)


def namespace_option(f: Any) -> Any:
    return click.option(
        "-namespace",
        "--namespace",
        "namespace",
        default=None,
        metavar="NS",
        help="The namespace (default: NOMAD_NAMESPACE or default; * for all).",
    )(f)


def _namespace(value: str | None) -> str:
    return value or os.environ.get("NOMAD_NAMESPACE") or "default"


@click.group()
def service() -> None:
    """Interact with Nomad's native service registrations (as `nomad service`)."""


@service.command("list")
@address_option
@namespace_option
@click.option("-json", "--json", "as_json", is_flag=True, help="Output as JSON.")
@nomad_command
def list_(address: str | None, namespace: str | None, as_json: bool) -> None:
    """List the registered services."""
    ns = _namespace(namespace)
    stubs = client(address).get("/v1/services", namespace=ns) or []
    if not stubs:
        click.echo("No service registrations found")
    elif as_json:
        click.echo(json.dumps(stubs, indent=4))
    else:
        click.echo(format_service_list(stubs, ns == "*"))


@service.command("info")
@address_option
@namespace_option
@click.option("-json", "--json", "as_json", is_flag=True, help="Output as JSON.")
@click.option("-verbose", "--verbose", is_flag=True, help="Every field of each registration.")
@click.option("-tag", "--tag", default="", help="Only the registrations with this tag.")
@click.argument("name")
@nomad_command
def info(
    address: str | None,
    namespace: str | None,
    as_json: bool,
    verbose: bool,
    tag: str,
    name: str,
) -> None:
    """Show the registrations of one service."""
    params: dict[str, str] = {"namespace": _namespace(namespace)}
    if tag:
        params["tag"] = tag
    regs = client(address).get(f"/v1/service/{quote(name, safe='')}", **params) or []
    if not regs:
        click.echo("No service registrations found")
    elif as_json:
        click.echo(json.dumps(regs, indent=4))
    else:
        click.echo(format_service_info(regs, verbose))


@service.command("delete")
@address_option
@namespace_option
@click.argument("name")
@click.argument("service_id")
@nomad_command
def delete(address: str | None, namespace: str | None, name: str, service_id: str) -> None:
    """Delete one registration (the client registers it again while its task runs)."""
    path = f"/v1/service/{quote(name, safe='')}/{quote(service_id, safe='')}"
    client(address).delete(path, namespace=_namespace(namespace))
    click.echo("Successfully deleted service registration")

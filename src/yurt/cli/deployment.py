"""`yurt deployment status|list`, formatted like `nomad deployment ...`."""

from __future__ import annotations

import click

from yurt.cli.common import address_option, client, nomad_command, resolve_one
from yurt.cli.nomad_format import deployment as format_deployment
from yurt.cli.nomad_format import deployment_list


@click.group()
def deployment() -> None:
    """Interact with deployments (as `nomad deployment`)."""


@deployment.command("status")
@address_option
@click.option("-verbose", "--verbose", is_flag=True, help="Full IDs.")
@click.argument("deployment_id")
@nomad_command
def status(address: str | None, verbose: bool, deployment_id: str) -> None:
    """Show a deployment's progress per task group."""
    api = client(address)
    full = resolve_one(api, "deployments", "deployment", deployment_id)
    click.echo(format_deployment(api.get(f"/v1/deployment/{full}"), 0 if verbose else 8))


@deployment.command("list")
@address_option
@click.option("-verbose", "--verbose", is_flag=True, help="Full IDs.")
@nomad_command
def list_(address: str | None, verbose: bool) -> None:
    """List deployments."""
    items = client(address).get("/v1/deployments") or []
    if not items:
        click.echo("No deployments found")
        return
    click.echo(deployment_list(items, 0 if verbose else 8))

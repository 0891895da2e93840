"""`yurt system gc|reconcile summaries`, as `nomad system ...`."""

from __future__ import annotations

import click

from yurt.cli.common import address_option, client, nomad_command


@click.group("system")
def system() -> None:
    """Interact with the system API (as `nomad system`)."""


@system.command("gc")
@address_option
@nomad_command
def gc(address: str | None) -> None:
    """Garbage-collect dead jobs, finished evaluations and allocations, old deployments and
    down nodes now, whatever their age. Prints nothing unless an error occurs."""
    client(address).put("/v1/system/gc")


@system.group("reconcile")
def reconcile() -> None:
    """Reconcile system state."""


@reconcile.command("summaries")
@address_option
@nomad_command
def summaries(address: str | None) -> None:
    """Reconcile the summaries of all registered jobs."""
    client(address).put("/v1/system/reconcile/summaries")

"""`yurt eval status|list`, formatted like `nomad eval ...`."""

from __future__ import annotations

import click

from yurt.cli.common import address_option, client, nomad_command, resolve_one
from yurt.cli.nomad_format import eval_status
from yurt.cli.output import format_list, limit


@click.group("eval")
def eval_() -> None:
    """Interact with evaluations (as `nomad eval`)."""


@eval_.command("status")
@address_option
@click.option("-verbose", "--verbose", is_flag=True, help="Full IDs.")
@click.argument("eval_id")
@nomad_command
def status(address: str | None, verbose: bool, eval_id: str) -> None:
    """Show an evaluation and, when placement failed, why."""
    api = client(address)
    full = resolve_one(api, "evaluations", "evaluation", eval_id)
    click.echo(eval_status(api.get(f"/v1/evaluation/{full}"), 0 if verbose else 8))


@eval_.command("list")
@address_option
@click.option("-verbose", "--verbose", is_flag=True, help="Full IDs.")
@nomad_command
def list_(address: str | None, verbose: bool) -> None:
    """List evaluations."""
    api = client(address)
    length = 0 if verbose else 8
    evals = api.get("/v1/evaluations") or []
    if not evals:
        click.echo("No evals found")
        return
    rows = [["ID", "Priority", "Triggered By", "Job ID", "Node ID", "Status", "Placement Failures"]]
    for ev in evals:
        rows.append(
            [
                limit(str(ev.get("ID", "")), length),
                str(ev.get("Priority", "")),
                str(ev.get("TriggeredBy", "")),
                str(ev.get("JobID", "")),
                limit(str(ev.get("NodeID") or "<none>"), length),
                str(ev.get("Status", "")),
                str(bool(ev.get("FailedTGAllocs"))).lower(),
            ]
        )
    click.echo(format_list(rows))

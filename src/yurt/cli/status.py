"""`yurt status [ID]`, as `nomad status`: the jobs, or whatever one ID prefix names.

With an ID it asks the server's search API which jobs, allocations, evaluations, nodes and
deployments the prefix matches, and shows the one it names with that kind's own `status`.
"""

from __future__ import annotations

import click

from yurt.cli.common import address_option, client, fail, nomad_command, verbose_option

# search context -> (module, command, its ID parameter)
_KINDS = {
    "jobs": ("yurt.cli.job_ops", "status", "job_id"),
    "allocs": ("yurt.cli.alloc", "status", "alloc_id"),
    "evals": ("yurt.cli.evaluation", "status", "eval_id"),
    "nodes": ("yurt.cli.node", "status", "node_id"),
    "deployment": ("yurt.cli.deployment", "status", "deployment_id"),
}
_NOUNS = {
    "jobs": "job",
    "allocs": "allocation",
    "evals": "evaluation",
    "nodes": "node",
    "deployment": "deployment",
}


@click.command("status")
@address_option
@verbose_option
@click.argument("ident", required=False)
@click.pass_context
@nomad_command
def status(ctx: click.Context, address: str | None, verbose: bool, ident: str | None) -> None:
    """List jobs, or show the job, allocation, evaluation, node or deployment an ID names."""
    import importlib

    def show(kind: str, full: str | None) -> None:
        module, name, param = _KINDS[kind]
        command = getattr(importlib.import_module(module), name)
        ctx.invoke(command, address=address, verbose=verbose, **{param: full})

    if not ident:
        show("jobs", None)
        return
    found = client(address).post("/v1/search", {"Prefix": ident, "Context": "all"})
    matches = {k: v for k, v in ((found or {}).get("Matches") or {}).items() if v and k in _KINDS}
    # A job named exactly so wins, as in nomad (job IDs are names, not UUIDs).
    if ident in matches.get("jobs", []):
        show("jobs", ident)
        return
    if not matches:
        fail(f'No matches found for "{ident}"'.replace("'", '"'))
    if len(matches) == 1:
        kind, ids = next(iter(matches.items()))
        if len(ids) == 1 or kind == "jobs":
            show(kind, ids[0] if len(ids) == 1 else ident)
            return
    lines = [f"Prefix matched multiple {_NOUNS[k]}s: {', '.join(v)}" for k, v in matches.items()]
    fail("\n".join(lines))

"""Following an evaluation and its deployment the way `nomad job run` does.

Every wait is a blocking query on the server, so monitoring costs nothing between changes.
Exit codes are Nomad's: 0 done, 1 error or failed deployment, 2 placement failures.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import click

from yurt.cli.nomad_format import alloc_metrics, deployment_groups, now_rfc3339
from yurt.cli.nomad_http import NomadHTTP
from yurt.cli.output import format_kv, limit

_TERMINAL_EVAL = {"complete", "failed", "canceled", "cancelled"}
_TERMINAL_DEPLOYMENT = {"successful", "failed", "cancelled", "canceled", "blocked", "paused"}


def _say(line: str, top: bool = False) -> None:
    prefix = "==> " if top else "    "
    click.echo(f"{prefix}{now_rfc3339()}: {line}")


def monitor_evaluation(
    api: NomadHTTP, eval_id: str, *, follow_deployment: bool = True, length: int = 8
) -> int:
    short = limit(eval_id, length)
    _say(f'Monitoring evaluation "{short}"', top=True)
    index = 0
    seen_allocs: set[str] = set()
    last_status = ""
    announced_trigger = False
    announced_deployment = False
    evaluation: dict[str, Any] = {}
    while True:
        evaluation, index = api.get_with_index(f"/v1/evaluation/{eval_id}", index=index, wait="30s")
        if not announced_trigger:
            trigger = evaluation.get("TriggeredBy", "")
            what = f'job "{evaluation.get("JobID")}"' if evaluation.get("JobID") else "node"
            _say(f"Evaluation triggered by {what}" if trigger else "Evaluation created")
            announced_trigger = True
        if evaluation.get("DeploymentID") and not announced_deployment:
            _say(f'Evaluation within deployment: "{limit(evaluation["DeploymentID"], length)}"')
            announced_deployment = True
        allocs = api.get(f"/v1/evaluation/{eval_id}/allocations") or []
        for a in sorted(allocs, key=lambda a: int(a.get("CreateIndex") or 0)):
            if a["ID"] in seen_allocs:
                continue
            seen_allocs.add(a["ID"])
            _say(
                f'Allocation "{limit(a["ID"], length)}" created: node '
                f'"{limit(str(a.get("NodeID", "")), length)}", group "{a.get("TaskGroup")}"'
            )
        status = str(evaluation.get("Status", ""))
        if status != last_status and last_status:
            _say(f'Evaluation status changed: "{last_status}" -> "{status}"')
        last_status = status
        if status in _TERMINAL_EVAL or status == "blocked":
            break
    failed = evaluation.get("FailedTGAllocs") or {}
    if failed:
        _say(
            f'Evaluation "{short}" finished with status "{last_status}" but failed to place '
            "all allocations:",
            top=True,
        )
        for tg, metrics in sorted(failed.items()):
            count = int(metrics.get("CoalescedFailures") or 0) + 1
            noun = "allocation" if count == 1 else "allocations"
            click.echo(f'    Task Group "{tg}" (failed to place {count} {noun}):')
            click.echo(alloc_metrics(metrics, "      "))
        if evaluation.get("BlockedEval"):
            _say(
                f'Evaluation "{limit(evaluation["BlockedEval"], length)}" waiting for additional '
                "capacity to place remainder"
            )
        return 2
    _say(f'Evaluation "{short}" finished with status "{last_status}"', top=True)
    if last_status == "failed":
        return 1
    if follow_deployment and evaluation.get("DeploymentID"):
        return monitor_deployment(api, str(evaluation["DeploymentID"]), length=length)
    return 0


def _deployment_view(deployment: dict[str, Any], short: str, started: float, length: int) -> Any:
    from rich.console import Group
    from rich.spinner import Spinner
    from rich.text import Text

    elapsed = int(time.monotonic() - started)
    description = str(deployment.get("StatusDescription", ""))
    headline = Spinner(
        "dots", text=Text(f'Deployment "{short}" in progress ({elapsed}s): {description}')
    )
    table = Text("    " + deployment_groups(deployment, length).replace("\n", "\n    "))
    return Group(headline, Text(""), table)


def monitor_deployment(api: NomadHTTP, deployment_id: str, *, length: int = 8) -> int:
    """Follows a deployment to its end; on a terminal, as a live view that redraws in place."""
    short = limit(deployment_id, length)
    _say(f'Monitoring deployment "{short}"', top=True)
    index = 0
    deployment: dict[str, Any] = {}
    started = time.monotonic()
    status = ""
    live: Any = None
    if sys.stdout.isatty():
        from rich.live import Live

        live = Live(refresh_per_second=8, transient=True)
        live.start()
    try:
        while status not in _TERMINAL_DEPLOYMENT:
            # A short wait keeps the elapsed-time counter moving on a terminal.
            wait = "1s" if live is not None else "30s"
            deployment, index = api.get_with_index(
                f"/v1/deployment/{deployment_id}", index=index, wait=wait
            )
            status = str(deployment.get("Status", ""))
            if live is not None:
                live.update(_deployment_view(deployment, short, started, length))
    finally:
        if live is not None:
            live.stop()
    mark = "✓" if status == "successful" else "!"
    click.echo(f'  {mark} Deployment "{short}" {status}\n')
    click.echo(
        "    "
        + format_kv(
            [
                ("ID", short),
                ("Job ID", str(deployment.get("JobID", ""))),
                ("Job Version", str(deployment.get("JobVersion", 0))),
                ("Status", status),
                ("Description", str(deployment.get("StatusDescription", ""))),
            ]
        ).replace("\n", "\n    ")
    )
    click.echo(
        "\n    Deployed\n    " + deployment_groups(deployment, length).replace("\n", "\n    ")
    )
    return 0 if status == "successful" else 1

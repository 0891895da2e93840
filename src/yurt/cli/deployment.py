"""`yurt deployment status|list`, formatted like `nomad deployment ...`."""

from __future__ import annotations

import click

from yurt.cli.common import add_status_and_list
from yurt.cli.nomad_format import deployment as format_deployment
from yurt.cli.nomad_format import deployment_list


@click.group()
def deployment() -> None:
    """Interact with deployments (as `nomad deployment`)."""


add_status_and_list(
    deployment,
    noun="deployment",
    plural="deployments",
    show=format_deployment,
    show_list=deployment_list,
    helps=("Show a deployment's progress per task group.", "List deployments."),
)

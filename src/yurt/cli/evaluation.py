"""`yurt eval status|list`, formatted like `nomad eval ...`."""

from __future__ import annotations

import click

from yurt.cli.common import add_status_and_list
from yurt.cli.nomad_format import eval_list, eval_status


@click.group("eval")
def eval_() -> None:
    """Interact with evaluations (as `nomad eval`)."""


add_status_and_list(
    eval_,
    noun="evaluation",
    plural="evaluations",
    show=eval_status,
    show_list=eval_list,
    helps=("Show an evaluation and, when placement failed, why.", "List evaluations."),
)

"""`yurt job ...`: Nomad's job commands.

`validate` and `run -output` read job files locally; `run` and `plan` parse the file here
(as the nomad CLI does) and send the JSON job to the server. The commands that only talk to
the server (`status`, `stop`, `allocs`, ...) live in `job_ops` and hang from this group.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from yurt.cli.common import address_option, client, nomad_command, verbose_option
from yurt.cli.job_ops import SERVER_COMMANDS, plan_job, submit_job
from yurt.jobspec import JobspecError, check_job, load_job, validate
from yurt.jobspec.parse import LoadOptions

_CONTEXT = {"help_option_names": ["-h", "-help", "--help"]}


@click.group("job", context_settings=_CONTEXT)
def job() -> None:
    """Work with Nomad job files and jobs."""


def _parse_vars(values: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values:
        if "=" not in item:
            raise click.BadParameter(f'"{item}": expected name=value', param_hint="-var")
        name, value = item.split("=", 1)
        out[name.strip()] = value
    return out


def _read(path: str) -> tuple[str, str]:
    if path == "-":
        return sys.stdin.read(), "<stdin>"
    try:
        return Path(path).read_text(), path
    except OSError as exc:
        raise click.ClickException(f"Error reading job file {path}: {exc.strerror}") from None


def _var_options(func: Any) -> Any:
    func = click.option(
        "-var",
        "--var",
        "var",
        multiple=True,
        metavar="KEY=VALUE",
        help="A variable for the job file (repeatable).",
    )(func)
    return click.option(
        "-var-file",
        "--var-file",
        "var_file",
        multiple=True,
        type=click.Path(exists=True, dir_okay=False),
        metavar="FILE",
        help="An HCL or JSON file of variable values (repeatable).",
    )(func)


def _load(path: str, var: tuple[str, ...], var_file: tuple[str, ...], *, check: bool) -> Any:
    text, name = _read(path)
    options = LoadOptions(
        variables=_parse_vars(var),
        var_files=[Path(f) for f in var_file],
        environ=os.environ,
        allow_fs=True,
    )
    if check:
        return check_job(text, name, **options)
    return load_job(text, name, **options)


def _fail(lines: list[str]) -> None:
    click.echo("Error validating job:" if lines else "", err=True)
    for line in lines:
        click.echo(f"  {line}", err=True)
    sys.exit(1)


def _read_json_job(path: str) -> tuple[dict[str, Any], str]:
    text, name = _read(path)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        _fail([f"{name}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}"])
        raise AssertionError from None  # _fail exits
    if isinstance(doc, dict) and isinstance(doc.get("Job"), dict):
        doc = doc["Job"]
    if not isinstance(doc, dict):
        _fail([f"{name}: expected a JSON job object"])
    return doc, name


@job.command("validate", context_settings=_CONTEXT)
@_var_options
@click.option(
    "-json", "--json", "as_json", is_flag=True, help="FILE is a JSON job (the API form), not HCL."
)
@click.argument("path", metavar="FILE")
def validate_cmd(path: str, var: tuple[str, ...], var_file: tuple[str, ...], as_json: bool) -> None:
    """Check a job file without submitting it; errors point at file:line:column."""
    if as_json:
        doc, name = _read_json_job(path)
        result = validate(doc)
        if result.errors:
            _fail([f"{name}: {e}" for e in result.errors])
        for w in result.warnings:
            click.echo(f"Job Warnings:\n  * {w}\n")
        click.echo("Job validation successful")
        return
    try:
        _parsed, warnings = _load(path, var, var_file, check=True)
    except JobspecError as exc:
        _fail([str(d) for d in exc.diagnostics])
        return
    if warnings:
        click.echo("Job Warnings:")
        for w in warnings:
            click.echo(f"  * {w}")
        click.echo()
    click.echo("Job validation successful")


@job.command("run", context_settings=_CONTEXT)
@address_option
@click.option(
    "-output",
    "--output",
    "output",
    is_flag=True,
    help="Print the JSON job instead of submitting it.",
)
@click.option("-detach", "--detach", is_flag=True, help="Return at once with the eval ID.")
@verbose_option
@click.option(
    "-check-index",
    "--check-index",
    "check_index",
    type=int,
    default=None,
    help="Register only if the job's modify index is this (0: only if it is new).",
)
@_var_options
@click.argument("path", metavar="FILE")
@nomad_command
def run_cmd(
    address: str | None,
    path: str,
    output: bool,
    detach: bool,
    verbose: bool,
    check_index: int | None,
    var: tuple[str, ...],
    var_file: tuple[str, ...],
) -> None:
    """Submit a job file and follow its evaluation and deployment (as `nomad job run`)."""
    try:
        if output:
            # As `nomad job run -output`: parse only; the server's checks come on submit.
            click.echo(json.dumps({"Job": _load(path, var, var_file, check=False).job}, indent=4))
            return
        parsed, _warnings = _load(path, var, var_file, check=True)
    except JobspecError as exc:
        _fail([str(d) for d in exc.diagnostics])
        return
    source, _ = _read(path) if path != "-" else ("", "")
    code = submit_job(
        client(address),
        parsed.job,
        source=source,
        variable_flags=_parse_vars(var),
        check_index=check_index,
        detach=detach,
        verbose=verbose,
    )
    sys.exit(code)


@job.command("plan", context_settings=_CONTEXT)
@address_option
@verbose_option
@_var_options
@click.argument("path", metavar="FILE")
@nomad_command
def plan_cmd(
    address: str | None, verbose: bool, path: str, var: tuple[str, ...], var_file: tuple[str, ...]
) -> None:
    """Dry-run a job file: what would be placed, changed or stopped (as `nomad job plan`)."""
    try:
        parsed, _warnings = _load(path, var, var_file, check=True)
    except JobspecError as exc:
        _fail([str(d) for d in exc.diagnostics])
        return
    sys.exit(plan_job(client(address), parsed.job, path, verbose=verbose))


@job.command("init", context_settings=_CONTEXT)
@click.option("-short", "--short", is_flag=True, help="The job without comments.")
@click.argument("filename", required=False)
def init_cmd(short: bool, filename: str | None) -> None:
    """Write an example job file (example.nomad.hcl), as `nomad job init`."""
    from yurt.jobspec.init_template import DEFAULT_FILE, FULL, SHORT

    target = Path(filename or DEFAULT_FILE)
    try:
        # "x": never overwrite, as Nomad refuses an existing file
        with target.open("x") as out:
            out.write(SHORT if short else FULL)
    except FileExistsError:
        click.echo(f"Job '{target}' already exists", err=True)
        sys.exit(1)
    except OSError as exc:
        click.echo(f"Failed to write '{target}': {exc.strerror}", err=True)
        sys.exit(1)
    click.echo(f"Example job file written to {target}")


for _command in SERVER_COMMANDS:
    job.add_command(_command)

"""The `yurt job` commands that talk to a Nomad-compatible server, formatted like `nomad job`.

`cli/job.py` owns the `job` group and the file-based commands (validate, run -output); it
attaches these. Each prints what the nomad CLI prints, so scripts written for it keep working.
"""

from __future__ import annotations

import base64
import json
import sys
from typing import Any

import click

from yurt.cli.common import address_option, client, fail, nomad_command, verbose_option
from yurt.cli.monitor import monitor_evaluation
from yurt.cli.nomad_format import alloc_list, job_list, job_status
from yurt.cli.nomad_http import NomadError, NomadHTTP
from yurt.cli.output import format_kv, format_unix_nano

detach_option = click.option(
    "-detach", "--detach", is_flag=True, help="Return at once with the evaluation ID."
)


def resolve_job(api: NomadHTTP, ident: str) -> str:
    """A job ID from an exact ID or a unique prefix, as the nomad CLI resolves it."""
    jobs = api.get("/v1/jobs", prefix=ident) or []
    if not jobs:
        fail(f'No job(s) with prefix or id "{ident}" found')
    if len(jobs) > 1 and jobs[0].get("ID") != ident.strip():
        fail(f"Prefix matched multiple jobs\n\n{job_list(jobs)}")
    return str(jobs[0]["ID"])


def _finish(api: NomadHTTP, eval_id: str, detach: bool, verbose: bool) -> None:
    if not eval_id:
        return
    if detach:
        click.echo(f"Evaluation ID: {eval_id}")
        return
    sys.exit(monitor_evaluation(api, eval_id, length=0 if verbose else 8))


@click.command("status")
@address_option
@verbose_option
@click.option("-evals", "--evals", is_flag=True, help="Show the job's evaluations.")
@click.option("-all-allocs", "--all-allocs", is_flag=True, help="Include older versions' allocs.")
@click.option("-short", "--short", is_flag=True, help="Only the header block.")
@click.argument("job_id", required=False)
@nomad_command
def status(
    address: str | None,
    verbose: bool,
    evals: bool,
    all_allocs: bool,
    short: bool,
    job_id: str | None,
) -> None:
    """List jobs, or show one job's summary, deployment and allocations."""
    api = client(address)
    if job_id is None:
        jobs = api.get("/v1/jobs") or []
        click.echo(job_list(jobs) if jobs else "No running jobs")
        return
    full = resolve_job(api, job_id)
    job = api.get(f"/v1/job/{full}")
    if short:
        from yurt.cli.nomad_format import job_header

        click.echo(job_header(job))
        return
    summary = api.get(f"/v1/job/{full}/summary")
    allocs = api.get(f"/v1/job/{full}/allocations", all=all_allocs) or []
    deployment = api.get(f"/v1/job/{full}/deployment")
    evaluations = api.get(f"/v1/job/{full}/evaluations") if (evals or verbose) else None
    click.echo(job_status(job, summary, allocs, deployment, evaluations, verbose=verbose))


@click.command("allocs")
@address_option
@verbose_option
@click.option("-all", "--all", "all_", is_flag=True, help="Include older versions' allocs.")
@click.option("-json", "--json", "as_json", is_flag=True, help="Print JSON.")
@click.argument("job_id")
@nomad_command
def allocs(address: str | None, verbose: bool, all_: bool, as_json: bool, job_id: str) -> None:
    """List a job's allocations."""
    api = client(address)
    full = resolve_job(api, job_id)
    items = api.get(f"/v1/job/{full}/allocations", all=all_) or []
    if as_json:
        click.echo(json.dumps(items, indent=4))
        return
    click.echo(alloc_list(items, verbose=verbose, length=0 if verbose else 8))


@click.command("stop")
@address_option
@detach_option
@verbose_option
@click.option("-purge", "--purge", is_flag=True, help="Remove the job from the scheduler.")
@click.option("-yes", "--yes", is_flag=True, help="Do not ask for confirmation.")
@click.argument("job_id")
@nomad_command
def stop(
    address: str | None, detach: bool, verbose: bool, purge: bool, yes: bool, job_id: str
) -> None:
    """Stop a running job (and with -purge, forget it)."""
    api = client(address)
    full = resolve_job(api, job_id)
    result = api.delete(f"/v1/job/{full}", purge=purge) or {}
    _finish(api, str(result.get("EvalID") or ""), detach, verbose)


@click.command("inspect")
@address_option
@click.option("-version", "--version", "version", type=int, default=None, help="A past version.")
@click.argument("job_id")
@nomad_command
def inspect(address: str | None, version: int | None, job_id: str) -> None:
    """Print the job as JSON, as the server stores it."""
    api = client(address)
    full = resolve_job(api, job_id)
    if version is None:
        job = api.get(f"/v1/job/{full}")
    else:
        versions = (api.get(f"/v1/job/{full}/versions") or {}).get("Versions") or []
        match = [v for v in versions if v.get("Version") == version]
        if not match:
            fail(f'Job "{full}" has no version {version}')
        job = match[0]
    click.echo(json.dumps({"Job": job}, indent=4))


@click.command("history")
@address_option
@click.option("-p", "show_diff", is_flag=True, help="Show the difference between versions.")
@click.option("-version", "--version", "version", type=int, default=None, help="One version.")
@click.argument("job_id")
@nomad_command
def history(address: str | None, show_diff: bool, version: int | None, job_id: str) -> None:
    """List the job's versions."""
    api = client(address)
    full = resolve_job(api, job_id)
    data = api.get(f"/v1/job/{full}/versions", diffs=show_diff) or {}
    versions = data.get("Versions") or []
    diffs = data.get("Diffs") or []
    blocks = []
    for i, v in enumerate(versions):
        if version is not None and v.get("Version") != version:
            continue
        pairs = [
            ("Version", str(v.get("Version", 0))),
            ("Stable", str(bool(v.get("Stable"))).lower()),
            ("Submit Date", format_unix_nano(v.get("SubmitTime"))),
        ]
        if show_diff and i < len(diffs) and diffs[i]:
            pairs.append(("Diff", _render_diff(diffs[i])))
        blocks.append(format_kv(pairs))
    click.echo("\n\n".join(blocks))


def _render_diff(diff: dict[str, Any], indent: str = "") -> str:
    lines = []
    marks = {"Added": "+", "Deleted": "-", "Edited": "+/-", "None": ""}
    for field in diff.get("Fields") or []:
        mark = marks.get(str(field.get("Type")), "")
        old, new = field.get("Old", ""), field.get("New", "")
        value = f'"{old}" => "{new}"' if mark == "+/-" else f'"{new or old}"'
        lines.append(f"{indent}{mark} {field.get('Name')}: {value}")
    for obj in (
        (diff.get("Objects") or []) + (diff.get("TaskGroups") or []) + (diff.get("Tasks") or [])
    ):
        mark = marks.get(str(obj.get("Type")), "")
        lines.append(f"{indent}{mark} {obj.get('Name')} {{")
        lines.append(_render_diff(obj, indent + "  "))
        lines.append(f"{indent}}}")
    return "\n".join(line for line in lines if line.strip())


@click.command("revert")
@address_option
@detach_option
@verbose_option
@click.argument("job_id")
@click.argument("version", type=int)
@nomad_command
def revert(address: str | None, detach: bool, verbose: bool, job_id: str, version: int) -> None:
    """Revert the job to an earlier version."""
    api = client(address)
    full = resolve_job(api, job_id)
    result = api.post(f"/v1/job/{full}/revert", {"JobID": full, "JobVersion": version}) or {}
    _finish(api, str(result.get("EvalID") or ""), detach, verbose)


@click.command("scale")
@address_option
@detach_option
@verbose_option
@click.argument("job_id")
@click.argument("args", nargs=-1, required=True)
@nomad_command
def scale(
    address: str | None, detach: bool, verbose: bool, job_id: str, args: tuple[str, ...]
) -> None:
    """Change a task group's count: `yurt job scale JOB [GROUP] COUNT`."""
    api = client(address)
    full = resolve_job(api, job_id)
    if len(args) > 2:
        fail("usage: yurt job scale JOB [GROUP] COUNT")
    count_text = args[-1]
    if not count_text.isdigit():
        fail(f'Failed to convert count "{count_text}" to a number')
    group = args[0] if len(args) == 2 else None
    if group is None:
        job = api.get(f"/v1/job/{full}")
        groups = [g.get("Name") for g in job.get("TaskGroups") or []]
        if len(groups) != 1:
            fail(f"Job has {len(groups)} task groups: name one of {', '.join(map(str, groups))}")
        group = str(groups[0])
    body = {"Count": int(count_text), "Target": {"Group": group}, "Message": ""}
    result = api.post(f"/v1/job/{full}/scale", body) or {}
    _finish(api, str(result.get("EvalID") or ""), detach, verbose)


@click.command("dispatch")
@address_option
@detach_option
@verbose_option
@click.option("-meta", "--meta", "meta", multiple=True, help="k=v metadata for the dispatch.")
@click.option("-id-prefix-template", "--id-prefix-template", default="", help="ID prefix.")
@click.argument("job_id")
@click.argument("input_file", required=False)
@nomad_command
def dispatch(
    address: str | None,
    detach: bool,
    verbose: bool,
    meta: tuple[str, ...],
    id_prefix_template: str,
    job_id: str,
    input_file: str | None,
) -> None:
    """Dispatch an instance of a parameterized job (payload from a file or '-' for stdin)."""
    api = client(address)
    pairs: dict[str, str] = {}
    for item in meta:
        key, sep, value = item.partition("=")
        if not sep:
            fail(f'Error parsing meta value "{item}": expected key=value')
        pairs[key] = value
    payload = b""
    if input_file == "-":
        payload = sys.stdin.buffer.read()
    elif input_file:
        with open(input_file, "rb") as f:
            payload = f.read()
    body: dict[str, Any] = {"Meta": pairs, "IdPrefixTemplate": id_prefix_template}
    if payload:
        body["Payload"] = base64.b64encode(payload).decode()
    result = api.post(f"/v1/job/{job_id}/dispatch", body) or {}
    click.echo(
        format_kv(
            [
                ("Dispatched Job ID", str(result.get("DispatchedJobID", ""))),
                ("Evaluation ID", str(result.get("EvalID", ""))[: 0 if verbose else 8]),
            ]
        )
    )
    if result.get("EvalID") and not detach:
        click.echo("")
        sys.exit(monitor_evaluation(api, str(result["EvalID"]), length=0 if verbose else 8))


@click.group("periodic")
def periodic() -> None:
    """Interact with periodic jobs."""


@periodic.command("force")
@address_option
@detach_option
@verbose_option
@click.argument("job_id")
@nomad_command
def periodic_force(address: str | None, detach: bool, verbose: bool, job_id: str) -> None:
    """Launch a periodic job now."""
    api = client(address)
    full = resolve_job(api, job_id)
    try:
        result = api.post(f"/v1/job/{full}/periodic/force") or {}
    except NomadError as exc:
        fail(f"Error forcing periodic job {full!r}: {exc}")
        return
    click.echo("Force periodic successful")
    _finish(api, str(result.get("EvalID") or ""), detach, verbose)


@click.command("deployments")
@address_option
@verbose_option
@click.argument("job_id")
@nomad_command
def deployments(address: str | None, verbose: bool, job_id: str) -> None:
    """List a job's deployments."""
    from yurt.cli.nomad_format import deployment_list

    api = client(address)
    full = resolve_job(api, job_id)
    items = api.get(f"/v1/job/{full}/deployments") or []
    if not items:
        click.echo(f'No deployments found for job "{full}"')
        return
    click.echo(deployment_list(items, 0 if verbose else 8))


SERVER_COMMANDS: tuple[click.Command, ...] = (
    status,
    allocs,
    stop,
    inspect,
    history,
    revert,
    scale,
    dispatch,
    periodic,
    deployments,
)


def submit_job(
    api: NomadHTTP,
    job: dict[str, Any],
    *,
    source: str,
    variable_flags: dict[str, str],
    check_index: int | None,
    detach: bool,
    verbose: bool,
) -> int:
    """Register `job` as `nomad job run` does and follow it; the exit code to return."""
    body: dict[str, Any] = {
        "Job": job,
        "Submission": {"Source": source, "Format": "hcl2", "VariableFlags": variable_flags},
    }
    if check_index is not None:
        body["EnforceIndex"] = True
        body["JobModifyIndex"] = check_index
    try:
        result = api.put("/v1/jobs", body) or {}
    except NomadError as exc:
        click.echo(f"Error submitting job: {exc}", err=True)
        return 1
    warnings = result.get("Warnings")
    if warnings:
        click.echo(f"Job Warnings:\n{warnings}\n")
    eval_id = str(result.get("EvalID") or "")
    periodic = bool(job.get("Periodic")) and not job.get("ParameterizedJob")
    if detach or periodic or job.get("ParameterizedJob") or not eval_id:
        click.echo("Job registration successful")
        if eval_id:
            click.echo(f"Evaluation ID: {eval_id}")
        return 0
    job_id = job.get("ID", "")
    namespace = job.get("Namespace") or "default"
    click.echo(f"==> View this job in the Web UI: {api.address}/ui/jobs/{job_id}@{namespace}\n")
    return monitor_evaluation(api, eval_id, length=0 if verbose else 8)


def plan_job(api: NomadHTTP, job: dict[str, Any], path: str, *, verbose: bool) -> int:
    """Dry-run `job` as `nomad job plan` does. Exit 0: no change to allocations; 1: some."""
    job_id = str(job.get("ID", ""))
    result = api.post(f"/v1/job/{job_id}/plan", {"Job": job, "Diff": True}) or {}
    diff = result.get("Diff") or {}
    if diff:
        click.echo(_render_plan_diff(diff, result.get("Annotations") or {}))
    click.echo("Scheduler dry-run:")
    failed = result.get("FailedTGAllocs") or {}
    if not failed:
        click.echo("- All tasks successfully allocated.")
    else:
        from yurt.cli.nomad_format import alloc_metrics

        for tg, metrics in sorted(failed.items()):
            click.echo(f'- WARNING: Failed to place all allocations.\n  Task Group "{tg}":')
            click.echo(alloc_metrics(metrics, "    "))
    index = result.get("JobModifyIndex", 0)
    click.echo(
        f"\nJob Modify Index: {index}\n"
        "To submit the job with version verification run:\n\n"
        f"yurt job run -check-index {index} {path}\n\n"
        "When running the job with the check-index flag, the job will only be run if the\n"
        "job modify index given matches the server-side version. If the index has\n"
        "changed, another user has modified the job and the plan's results are\n"
        "potentially invalid."
    )
    updates = (result.get("Annotations") or {}).get("DesiredTGUpdates") or {}
    changes = any(
        (u or {}).get(k)
        for u in updates.values()
        for k in ("Place", "Stop", "Migrate", "DestructiveUpdate", "Canary")
    )
    return 1 if changes else 0


_PLAN_MARKS = {"Added": "+", "Deleted": "-", "Edited": "+/-", "None": ""}


def _render_plan_diff(diff: dict[str, Any], annotations: dict[str, Any]) -> str:
    mark = _PLAN_MARKS.get(str(diff.get("Type")), "")
    lines = [f'{mark} Job: "{diff.get("ID")}"'.strip()]
    updates = annotations.get("DesiredTGUpdates") or {}
    for tg in diff.get("TaskGroups") or []:
        tmark = _PLAN_MARKS.get(str(tg.get("Type")), "")
        counts = updates.get(tg.get("Name")) or {}
        parts = [
            f"{counts[k]} {label}"
            for k, label in (
                ("Place", "create"),
                ("Stop", "destroy"),
                ("InPlaceUpdate", "in-place update"),
                ("DestructiveUpdate", "create/destroy update"),
                ("Canary", "canary"),
                ("Ignore", "ignore"),
            )
            if counts.get(k)
        ]
        suffix = f" ({', '.join(parts)})" if parts else ""
        lines.append(f'{tmark} Task Group: "{tg.get("Name")}"{suffix}'.strip())
        for task in tg.get("Tasks") or []:
            kmark = _PLAN_MARKS.get(str(task.get("Type")), "")
            ann = ", ".join(task.get("Annotations") or [])
            lines.append(f'  {kmark} Task: "{task.get("Name")}"' + (f" ({ann})" if ann else ""))
    return "\n".join(lines) + "\n"

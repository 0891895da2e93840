"""`yurt alloc status|logs|fs|stop|restart|signal|exec`, formatted like `nomad alloc ...`."""

from __future__ import annotations

import sys
from typing import Any

import click

from yurt.cli.common import address_option, client, fail, nomad_command, resolve_one
from yurt.cli.nomad_format import alloc_status
from yurt.cli.nomad_http import NomadError


@click.group()
def alloc() -> None:
    """Interact with allocations (as `nomad alloc`)."""


@alloc.command("status")
@address_option
@click.option("-verbose", "--verbose", is_flag=True, help="Full IDs and times.")
@click.option("-json", "--json", "as_json", is_flag=True, help="The allocation as JSON.")
@click.argument("alloc_id")
@nomad_command
def status(address: str | None, verbose: bool, as_json: bool, alloc_id: str) -> None:
    """Show an allocation's status, addresses, tasks and recent events."""
    api = client(address)
    full = resolve_one(api, "allocations", "allocation", alloc_id)
    allocation = api.get(f"/v1/allocation/{full}")
    if as_json:
        import json

        click.echo(json.dumps(allocation, indent=4))
        return
    stats: dict[str, Any] | None = None
    if allocation.get("ClientStatus") == "running":
        try:
            stats = api.get(f"/v1/client/allocation/{full}/stats")
        except NomadError as exc:
            click.echo(f"Couldn't retrieve stats: {exc}", err=True)
    click.echo(alloc_status(allocation, stats, verbose=verbose))


def _task_names(allocation: dict[str, Any]) -> list[str]:
    names = sorted((allocation.get("TaskStates") or {}).keys())
    if not names:
        names = [
            str(t["Name"])
            for g in (allocation.get("Job") or {}).get("TaskGroups") or []
            if g.get("Name") == allocation.get("TaskGroup")
            for t in g.get("Tasks") or []
        ]
    return names


def _only_task(allocation: dict[str, Any], task: str | None) -> str:
    if task:
        return task
    names = _task_names(allocation)
    if len(names) == 1:
        return str(names[0])
    fail(
        "Allocation has more than one task: pass one of "
        + ", ".join(names)
        + " (as `-task NAME` or a second argument)"
    )
    return ""


@alloc.command("logs")
@address_option
@click.option("-stderr", "--stderr", "stderr", is_flag=True, help="Show stderr instead of stdout.")
@click.option("-f", "-follow", "--follow", "follow", is_flag=True, help="Stream the logs.")
@click.option("-tail", "--tail", "tail", is_flag=True, help="Show the end of the logs.")
@click.option("-n", "lines", type=int, default=-1, help="With -tail, how many lines.")
@click.option("-task", "--task", "task_flag", default=None, help="The task to show.")
@click.argument("alloc_id")
@click.argument("task", required=False)
@nomad_command
def logs(
    address: str | None,
    stderr: bool,
    follow: bool,
    tail: bool,
    lines: int,
    task_flag: str | None,
    alloc_id: str,
    task: str | None,
) -> None:
    """Print (or follow) a task's stdout or stderr."""
    api = client(address)
    full = resolve_one(api, "allocations", "allocation", alloc_id)
    allocation = api.get(f"/v1/allocation/{full}")
    name = _only_task(allocation, task_flag or task)
    params: dict[str, str | int | bool] = {
        "task": name,
        "type": "stderr" if stderr else "stdout",
        "plain": True,
        "follow": follow,
        "origin": "end" if tail else "start",
        "offset": 0,
    }
    if tail and lines < 0:
        params["offset"] = 10 * 1024
    out = sys.stdout.buffer
    if tail and lines >= 0:
        data = b"".join(api.stream(f"/v1/client/fs/logs/{full}", **{**params, "follow": False}))
        out.write(b"".join(data.splitlines(keepends=True)[-lines:]) if lines else b"")
        out.flush()
        if not follow:
            return
        params["origin"] = "end"
        params["offset"] = 0
    try:
        for chunk in api.stream(f"/v1/client/fs/logs/{full}", **params):
            out.write(chunk)
            out.flush()
    except KeyboardInterrupt:
        return


@alloc.command("stop")
@address_option
@click.option("-detach", "--detach", is_flag=True, help="Return at once with the eval ID.")
@click.argument("alloc_id")
@nomad_command
def stop(address: str | None, detach: bool, alloc_id: str) -> None:
    """Stop an allocation; the scheduler places a replacement."""
    api = client(address)
    full = resolve_one(api, "allocations", "allocation", alloc_id)
    result = api.post(f"/v1/allocation/{full}/stop") or {}
    eval_id = str(result.get("EvalID", ""))
    if detach:
        click.echo(eval_id)
        return
    from yurt.cli.monitor import monitor_evaluation

    sys.exit(monitor_evaluation(api, eval_id))


@alloc.command("restart")
@address_option
@click.option("-task", "--task", "task_flag", default=None, help="The task to restart.")
@click.option(
    "-all-tasks",
    "--all-tasks",
    "all_tasks",
    is_flag=True,
    help="Restart every task, including prestart and poststart ones that ended.",
)
@click.argument("alloc_id")
@click.argument("task", required=False)
@nomad_command
def restart(
    address: str | None, task_flag: str | None, all_tasks: bool, alloc_id: str, task: str | None
) -> None:
    """Restart an allocation's running tasks (or one task) in place."""
    name = task_flag or task or ""
    if name and all_tasks:
        fail("The -all-tasks option cannot be used with a task name.")
    api = client(address)
    full = resolve_one(api, "allocations", "allocation", alloc_id)
    api.put(f"/v1/client/allocation/{full}/restart", {"TaskName": name, "AllTasks": all_tasks})


@alloc.command("signal")
@address_option
@click.option("-s", "signal_name", default="SIGKILL", show_default=True, help="The signal.")
@click.option("-task", "--task", "task_flag", default=None, help="The task to signal.")
@click.argument("alloc_id")
@click.argument("task", required=False)
@nomad_command
def signal(
    address: str | None, signal_name: str, task_flag: str | None, alloc_id: str, task: str | None
) -> None:
    """Send a signal to an allocation's tasks (or one task)."""
    api = client(address)
    full = resolve_one(api, "allocations", "allocation", alloc_id)
    api.put(
        f"/v1/client/allocation/{full}/signal",
        {"Task": task_flag or task or "", "Signal": signal_name},
    )


@alloc.command("fs")
@address_option
@click.option("-stat", "--stat", "stat_only", is_flag=True, help="Show the file's details only.")
@click.argument("alloc_id")
@click.argument("path", required=False, default="/")
@nomad_command
def fs(address: str | None, stat_only: bool, alloc_id: str, path: str) -> None:
    """List a directory of the allocation's directory, or print a file."""
    api = client(address)
    full = resolve_one(api, "allocations", "allocation", alloc_id)
    where = {"path": path}
    info = api.request("GET", f"/v1/client/fs/stat/{full}", params=where)[0]
    if stat_only:
        click.echo(_fs_table([info]))
        return
    if info.get("IsDir"):
        click.echo(_fs_table(api.request("GET", f"/v1/client/fs/ls/{full}", params=where)[0]))
        return
    raw, _ = api.request_raw("GET", f"/v1/client/fs/cat/{full}", params=where)
    sys.stdout.buffer.write(raw)
    sys.stdout.flush()


def _fs_table(entries: list[dict[str, Any]]) -> str:
    from yurt.cli.output import format_list

    rows = [["Mode", "Size", "Modified Time", "Name"]]
    for e in sorted(entries, key=lambda e: (not e.get("IsDir"), str(e.get("Name")))):
        when = str(e.get("ModTime") or "").replace("T", " ").rstrip("Z").split(".")[0]
        name = str(e.get("Name")) + ("/" if e.get("IsDir") else "")
        size = "" if e.get("IsDir") else _human_size(int(e.get("Size") or 0))
        rows.append([str(e.get("FileMode") or ""), size, when + " UTC" if when else "", name])
    return format_list(rows)


def _human_size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


@alloc.command("exec", context_settings={"ignore_unknown_options": True})
@address_option
@click.option("-task", "--task", "task", default=None, help="The task to run the command in.")
@click.option(
    "-i",
    "--interactive",
    "interactive",
    type=bool,
    default=True,
    show_default=True,
    help="Pass stdin to the command.",
)
@click.option(
    "-t",
    "--tty",
    "use_tty",
    type=bool,
    default=None,
    help="Allocate a terminal (default: when stdin is one).",
)
@click.argument("alloc_id")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@nomad_command
def exec_(
    address: str | None,
    task: str | None,
    interactive: bool,
    use_tty: bool | None,
    alloc_id: str,
    command: tuple[str, ...],
) -> None:
    """Run a command inside a running allocation's task (as `nomad alloc exec`)."""
    import json
    import urllib.parse

    from yurt.cli.alloc_exec import exec_session

    api = client(address)
    full = resolve_one(api, "allocations", "allocation", alloc_id)
    allocation = api.get(f"/v1/allocation/{full}")
    if allocation.get("ClientStatus") != "running":
        fail(f"Allocation {full[:8]} is not running (it is {allocation.get('ClientStatus')})")
    name = _only_task(allocation, task)
    known = _task_names(allocation)
    if name not in known:
        fail(f"Could not find task named: {name}; the allocation has {', '.join(known)}")
    if use_tty is None:
        use_tty = sys.stdin.isatty() and sys.stdout.isatty()
    query = urllib.parse.urlencode(
        {"task": name, "command": json.dumps(list(command)), "tty": str(use_tty).lower()}
    )
    url = f"{api.address}/v1/client/allocation/{full}/exec?{query}"
    sys.exit(exec_session(url, token=api.token, interactive=interactive, use_tty=use_tty))

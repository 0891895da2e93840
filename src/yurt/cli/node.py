"""`yurt node status|drain|eligibility`, formatted like `nomad node ...`."""

from __future__ import annotations

from typing import Any

import click

from yurt.cli.common import address_option, client, fail, nomad_command, resolve_one
from yurt.cli.nomad_format import alloc_list
from yurt.cli.output import SHORT_ID, format_kv, format_list, humanize_ibytes, limit


@click.group()
def node() -> None:
    """Interact with client nodes (as `nomad node`)."""


def _eligibility(n: dict[str, Any]) -> str:
    return str(n.get("SchedulingEligibility") or "eligible")


def node_list_rows(nodes: list[dict[str, Any]], length: int) -> list[list[str]]:
    rows = [["ID", "Node Pool", "DC", "Name", "Class", "Drain", "Eligibility", "Status"]]
    for n in nodes:
        rows.append(
            [
                limit(str(n.get("ID", "")), length),
                str(n.get("NodePool") or "default"),
                str(n.get("Datacenter", "")),
                str(n.get("Name", "")),
                str(n.get("NodeClass") or "<none>"),
                "true" if n.get("Drain") else "false",
                _eligibility(n),
                str(n.get("Status", "")),
            ]
        )
    return rows


@node.command("status")
@address_option
@click.option("-verbose", "--verbose", is_flag=True, help="Full IDs, attributes and meta.")
@click.option("-allocs", "--allocs", "show_allocs", is_flag=True, help="Running allocs per node.")
@click.argument("node_id", required=False)
@nomad_command
def status(address: str | None, verbose: bool, show_allocs: bool, node_id: str | None) -> None:
    """List nodes, or show one node's details."""
    api = client(address)
    length = 0 if verbose else SHORT_ID
    if node_id is None:
        nodes = api.get("/v1/nodes") or []
        if not nodes:
            click.echo("No nodes registered")
            return
        rows = node_list_rows(nodes, length)
        if show_allocs:
            rows[0].append("Running Allocs")
            for row, n in zip(rows[1:], nodes, strict=True):
                allocs = api.get(f"/v1/node/{n['ID']}/allocations") or []
                row.append(str(sum(1 for a in allocs if a.get("ClientStatus") == "running")))
        click.echo(format_list(rows))
        return
    full = resolve_one(api, "nodes", "node", node_id)
    n = api.get(f"/v1/node/{full}")
    allocs = api.get(f"/v1/node/{full}/allocations") or []
    click.echo(format_node(n, allocs, verbose))


def format_node(n: dict[str, Any], allocs: list[dict[str, Any]], verbose: bool) -> str:
    length = 0 if verbose else SHORT_ID
    drivers = sorted(
        name
        for name, info in (n.get("Drivers") or {}).items()
        if info and info.get("Detected") and info.get("Healthy")
    )
    basic = [
        ("ID", str(n.get("ID", ""))),
        ("Name", str(n.get("Name", ""))),
        ("Node Pool", str(n.get("NodePool") or "default")),
        ("Class", str(n.get("NodeClass") or "<none>")),
        ("DC", str(n.get("Datacenter", ""))),
        ("Drain", "true" if n.get("Drain") else "false"),
        ("Eligibility", _eligibility(n)),
        ("Status", str(n.get("Status", ""))),
        ("Driver Status", ",".join(drivers)),
    ]
    out = [format_kv(basic)]
    resources = n.get("NodeResources") or {}
    cpu_total = int((resources.get("Cpu") or {}).get("CpuShares") or 0)
    mem_total = int((resources.get("Memory") or {}).get("MemoryMB") or 0)
    running = [a for a in allocs if a.get("ClientStatus") in ("pending", "running")]
    cpu_used = mem_used = 0
    for a in running:
        for task in ((a.get("AllocatedResources") or {}).get("Tasks") or {}).values():
            cpu_used += int((task.get("Cpu") or {}).get("CpuShares") or 0)
            mem_used += int((task.get("Memory") or {}).get("MemoryMB") or 0)
    out.append("\nAllocated Resources")
    out.append(
        format_list(
            [
                ["CPU", "Memory", "Disk"],
                [
                    f"{cpu_used}/{cpu_total} MHz",
                    f"{humanize_ibytes(mem_used << 20)}/{humanize_ibytes(mem_total << 20)}",
                    "",
                ],
            ]
        )
    )
    out.append("\nAllocations")
    out.append(alloc_list(allocs, verbose=verbose, length=length))
    if verbose:
        attrs = sorted((n.get("Attributes") or {}).items())
        out.append("\nAttributes")
        out.append(format_kv([(k, str(v)) for k, v in attrs]))
        meta = sorted((n.get("Meta") or {}).items())
        out.append("\nMeta")
        out.append(format_kv([(k, str(v)) for k, v in meta]) if meta else "")
    return "\n".join(out)


@node.command("drain")
@address_option
@click.option("-enable", "--enable", is_flag=True, help="Enable draining.")
@click.option("-disable", "--disable", is_flag=True, help="Disable draining.")
@click.option("-deadline", "--deadline", default="1h", help="Drain deadline (Go duration).")
@click.option("-yes", "--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("-detach", "--detach", is_flag=True, help="Return at once.")
@click.argument("node_id")
@nomad_command
def drain(
    address: str | None,
    enable: bool,
    disable: bool,
    deadline: str,
    yes: bool,
    detach: bool,
    node_id: str,
) -> None:
    """Toggle drain mode on a node."""
    from yurt.api.durations import parse_go_duration

    if enable == disable:
        fail("Either the '-enable' or '-disable' flag must be set")
    api = client(address)
    full = resolve_one(api, "nodes", "node", node_id)
    try:
        deadline_ns = parse_go_duration(deadline)
    except ValueError as exc:
        fail(f"Error parsing deadline: {exc}")
        return
    spec = {"Deadline": deadline_ns, "IgnoreSystemJobs": False} if enable else None
    api.post(
        f"/v1/node/{full}/drain",
        {"NodeID": full, "DrainSpec": spec, "MarkEligible": disable},
    )
    state = "enabled" if enable else "disabled"
    click.echo(f"Node {full!r} drain strategy {state}".replace("'", '"'))


@node.command("eligibility")
@address_option
@click.option("-enable", "--enable", is_flag=True, help="Mark the node eligible.")
@click.option("-disable", "--disable", is_flag=True, help="Mark the node ineligible.")
@click.argument("node_id")
@nomad_command
def eligibility(address: str | None, enable: bool, disable: bool, node_id: str) -> None:
    """Toggle scheduling eligibility of a node."""
    if enable == disable:
        fail("Either the '-enable' or '-disable' flag must be set")
    api = client(address)
    full = resolve_one(api, "nodes", "node", node_id)
    value = "eligible" if enable else "ineligible"
    api.post(f"/v1/node/{full}/eligibility", {"NodeID": full, "Eligibility": value})
    click.echo(f'Node "{full}" scheduling eligibility set: {value} for scheduling')

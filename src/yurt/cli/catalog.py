"""`yurt catalog`: run the catalog server, or (`yurt catalog services|nodes`) list it."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path
from typing import Any

import click

from yurt.cli import catalog_acl
from yurt.cli._consul_http import get_json, http_addr_option
from yurt.cli.output import format_list
from yurt.cli.store_option import config_option, store_from

_SERVER_DEFAULT_ADDR = "127.0.0.1:8500"

log = logging.getLogger(__name__)


@click.group(
    "catalog",
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "-help", "--help"]},
)
@click.option(
    "-http-addr",
    "--http-addr",
    "http_addr",
    default=None,
    help="Serve the HTTP API on HOST:PORT (default 127.0.0.1:8500; port 0 picks a free one).",
)
@click.option(
    "-data-dir",
    "--data-dir",
    "data_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path(".yurt/catalog"),
    show_default=True,
    help="Where the catalog keeps its SQLite state.",
)
@click.option("-node", "--node", "node", default=None, help="Node name (default: hostname).")
@click.option("-datacenter", "--datacenter", "datacenter", default="dc1", show_default=True)
@click.option(
    "-config-dir",
    "--config-dir",
    "config_dirs",
    multiple=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Directory of Consul config files (JSON or HCL): service definitions and the "
    "acl { }, tls { } and ports { } settings; repeatable.",
)
@click.option(
    "-advertise",
    "--advertise",
    "advertise",
    default=None,
    help="Address advertised for this node (default 127.0.0.1).",
)
@click.option("-dev", "--dev", "dev", is_flag=True, help="Keep all state in memory.")
@config_option
@click.option(
    "-session-ttl-min",
    "--session-ttl-min",
    "session_ttl_min",
    default="10s",
    show_default=True,
    help="The shortest session TTL accepted (Consul's session_ttl_min).",
)
@click.option(
    "-enable-script-checks",
    "--enable-script-checks",
    "enable_script_checks",
    is_flag=True,
    help="Run script checks (Args) registered over the API and in config files.",
)
@click.option(
    "-enable-local-script-checks",
    "--enable-local-script-checks",
    "enable_local_script_checks",
    is_flag=True,
    help="Run script checks (Args) from config files only.",
)
@click.option(
    "-client",
    "--client",
    "client_mode",
    is_flag=True,
    help="Run as a client agent (Consul's server=false): keep this node's services and run "
    "their checks here, answer the rest through -servers (docs/cluster.md).",
)
@click.option(
    "-servers",
    "--servers",
    "servers",
    default="",
    help="With -client: the catalog servers' HTTP addresses, comma-separated (host:port).",
)
@click.pass_context
def catalog(
    ctx: click.Context,
    http_addr: str | None,
    data_dir: Path,
    node: str | None,
    datacenter: str,
    config_dirs: tuple[Path, ...],
    advertise: str | None,
    dev: bool,
    session_ttl_min: str,
    config_paths: tuple[Path, ...],
    enable_script_checks: bool,
    enable_local_script_checks: bool,
    client_mode: bool,
    servers: str,
) -> None:
    """Run the Consul-compatible catalog (or list it: `services`, `nodes`)."""
    ctx.ensure_object(dict)
    ctx.obj["http_addr"] = http_addr
    if ctx.invoked_subcommand is not None:
        return
    from yurt.api.durations import SECOND, parse_go_duration
    from yurt.api.http import split_host_port
    from yurt.catalog import CatalogConfig, CatalogServer
    from yurt.catalog.configdir import ConfigDirError
    from yurt.runtime import run, serve_until_signal
    from yurt.storage.config import StoreOpenError

    try:
        host, port = split_host_port(http_addr or _SERVER_DEFAULT_ADDR, 8500)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="-http-addr") from None
    try:
        ttl_min_s = parse_go_duration(session_ttl_min) / SECOND
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="-session-ttl-min") from None
    server_list = [s.strip() for s in servers.split(",") if s.strip()]
    if client_mode != bool(server_list):
        raise click.UsageError(
            "-client needs -servers host:port[,host:port...]"
            if client_mode
            else "-servers is for a client agent: add -client"
        )
    config = CatalogConfig(
        servers=server_list,
        http_host=host,
        http_port=port,
        data_dir=data_dir,
        datacenter=datacenter,
        config_dirs=list(config_dirs),
        dev=dev,
        session_ttl_min_s=ttl_min_s,
        store=store_from(config_paths),
        enable_script_checks=enable_script_checks,
        enable_local_script_checks=enable_local_script_checks,
    )
    if node:
        config.node_name = node
    if advertise:
        config.advertise_addr = advertise
    server = CatalogServer(config)

    def reload() -> None:
        try:
            ids = server.reload()
        except ConfigDirError as exc:
            log.error("reload failed, keeping the services as they were: %s", exc)
        else:
            log.info("reloaded: %d service(s) from the config directories", len(ids))

    def on_ready() -> None:
        # SIGHUP re-reads the config directories, as `consul reload` does
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, reload)

    async def main() -> None:
        await serve_until_signal([server], on_ready=on_ready)

    try:
        run(main)
    except ConfigDirError as exc:
        raise click.ClickException(str(exc)) from None
    except StoreOpenError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"cannot serve on {host}:{port}: {exc}") from None


def _addr(ctx: click.Context, own: str | None) -> str | None:
    if own:
        return own
    parent = ctx.obj.get("http_addr") if isinstance(ctx.obj, dict) else None
    return parent if isinstance(parent, str) else None


@catalog.command("services")
@http_addr_option
@click.option("-tags", "--tags", "show_tags", is_flag=True, help="Show each service's tags.")
@click.option("-node", "--node", "node", default=None, help="Only the services of this node.")
@click.option(
    "-health", "--health", "health", is_flag=True, help="One line per instance with its health."
)
@click.pass_context
def services(
    ctx: click.Context, http_addr: str | None, show_tags: bool, node: str | None, health: bool
) -> None:
    """List the services in the catalog, as `consul catalog services` does."""
    list_services(_addr(ctx, http_addr), show_tags=show_tags, node=node, health=health)


def list_services(addr: str | None, *, show_tags: bool, node: str | None, health: bool) -> None:
    data: dict[str, list[str]]
    if node:
        found: Any = get_json(addr, f"/v1/catalog/node/{node}", allow_404=True)
        if found is None:
            raise click.ClickException(f"No node found with name {node!r}")
        data = {}
        for svc in found["Services"].values():
            tags = data.setdefault(svc["Service"], [])
            tags.extend(t for t in svc["Tags"] or [] if t not in tags)
    else:
        data = get_json(addr, "/v1/catalog/services")
    names = sorted(data)
    if health:
        _print_health(addr, names, node)
        return
    if not show_tags:
        for name in names:
            click.echo(name)
        return
    click.echo(format_list([(name, ",".join(sorted(data[name]))) for name in names]))


def _print_health(addr: str | None, names: list[str], node: str | None) -> None:
    rows = [("Service", "ID", "Node", "Address", "Health", "Tags")]
    for name in names:
        for entry in get_json(addr, f"/v1/health/service/{name}"):
            if node and entry["Node"]["Node"] != node:
                continue
            svc = entry["Service"]
            address = svc["Address"] or entry["Node"]["Address"]
            statuses = {c["Status"] for c in entry["Checks"]}
            status = next(
                (s for s in ("critical", "warning", "maintenance") if s in statuses), "passing"
            )
            rows.append(
                (
                    name,
                    svc["ID"],
                    entry["Node"]["Node"],
                    f"{address}:{svc['Port']}",
                    status,
                    ",".join(svc["Tags"] or []),
                )
            )
    click.echo(format_list(rows))


@catalog.command("nodes")
@http_addr_option
@click.option("-service", "--service", "service", default=None, help="Only nodes running it.")
@click.option("-detailed", "--detailed", "detailed", is_flag=True, help="Show full node IDs.")
@click.pass_context
def nodes(ctx: click.Context, http_addr: str | None, service: str | None, detailed: bool) -> None:
    """List the nodes in the catalog, as `consul catalog nodes` does."""
    addr = _addr(ctx, http_addr)
    rows: list[dict[str, Any]] = get_json(addr, "/v1/catalog/nodes")
    if service:
        instances = get_json(addr, f"/v1/catalog/service/{service}")
        wanted = {i["Node"] for i in instances}
        rows = [r for r in rows if r["Node"] in wanted]
    if not rows:
        click.echo("No nodes match the given query.", err=True)
        return
    table = [("Node", "ID", "Address", "DC")]
    for r in rows:
        node_id = r.get("ID") or ""
        table.append(
            (r["Node"], node_id if detailed else node_id[:8], r["Address"], r["Datacenter"])
        )
    click.echo(format_list(table))


@catalog.command("datacenters")
@http_addr_option
@click.pass_context
def datacenters(ctx: click.Context, http_addr: str | None) -> None:
    """List the known datacenters, as `consul catalog datacenters` does."""
    for name in get_json(_addr(ctx, http_addr), "/v1/catalog/datacenters"):
        click.echo(name)


catalog.add_command(catalog_acl.acl)

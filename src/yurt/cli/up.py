"""`yurt up`: the dev agent, the whole stack in one process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from yurt.agent_config import AgentConfig, ConfigError, load_agent_config
from yurt.cli.up_flags import AgentFlags, apply_flags


@click.command(context_settings={"help_option_names": ["-h", "-help", "--help"]})
@click.option(
    "-config",
    "--config",
    "configs",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="Agent config shaped like Nomad's: an HCL or JSON file, or a directory of *.hcl "
    "and *.json (repeatable; later ones win).",
)
@click.option("-dev", "--dev", is_flag=True, help="Keep state in a temporary directory.")
@click.option(
    "-acl-enabled",
    "--acl-enabled",
    "acl_enabled",
    is_flag=True,
    help="Turn on Nomad's and Consul's ACL systems (the catalog with default_policy deny); "
    "bootstrap management tokens with `yurt acl bootstrap` (Nomad) and "
    "`yurt catalog acl bootstrap` (Consul).",
)
@click.option("-node", "--node", "node", default=None, help="The client node's name.")
@click.option("-dc", "--dc", "dc", default=None, help="The datacenter (default dc1).")
@click.option("-region", "--region", "region", default=None, help="The region (default global).")
@click.option(
    "-bind", "--bind", "bind", default=None, help="The address the scheduler and client bind."
)
@click.option(
    "-servers",
    "--servers",
    "servers",
    default=None,
    help="The servers the client joins: host:port[,host:port...].",
)
@click.option(
    "-meta",
    "--meta",
    "meta",
    multiple=True,
    help="Client metadata key=value (repeatable; added to the config's meta).",
)
@click.option("-node-class", "--node-class", "node_class", default=None, help="The node class.")
@click.option(
    "-log-level",
    "--log-level",
    "log_level",
    default=None,
    help="TRACE, DEBUG, INFO, WARN, ERROR or OFF.",
)
@click.option(
    "-data-dir",
    "--data-dir",
    "data_dir",
    default=None,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where state lives (default ./.yurt).",
)
@click.option(
    "-ready-timeout",
    "--ready-timeout",
    "ready_timeout",
    default=60.0,
    show_default=True,
    help="Seconds to wait for every agent to pass its checks.",
)
def up(
    configs: tuple[Path, ...],
    dev: bool,
    data_dir: Path | None,
    ready_timeout: float,
    **flag_values: Any,
) -> None:
    """Start the catalog, the scheduler with one client node, and the router.

    Takes `nomad agent`'s flags where they apply; a flag wins over the config files."""
    from yurt.agent import Agent, AgentStartError
    from yurt.runtime import run, serve_until_signal

    try:
        config = load_agent_config(list(configs)) if configs else AgentConfig()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"reading the config: {exc}") from None
    if dev:
        # As `nomad agent -dev`: raw_exec on. Otherwise only a config turns it on (the seed's
        # config/agent.hcl does), so a bare `yurt up` runs no host commands for anyone.
        config.raw_exec_enabled = True
    if not configs:
        # Without a config file, `yurt up` is the seed's stack with the seed's names.
        config.server_service_name = "nomad-1-server"
        config.client_service_name = "nomad-1-client"
        config.name = "nomad-1-client"
    if data_dir is not None:
        config.data_dir = data_dir
    try:
        apply_flags(config, AgentFlags(**flag_values))
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    from yurt.storage.config import StoreOpenError

    try:
        agent = Agent(config, dev=dev)
    except StoreOpenError as exc:
        raise click.ClickException(str(exc)) from None

    async def ready() -> None:
        try:
            await agent.wait_until_healthy(ready_timeout)
        except TimeoutError as exc:
            click.echo(f"==> yurt is up, but some agents are not healthy yet ({exc})", err=True)
        a = agent.addresses
        click.echo(
            "==> yurt is ready\n"
            f"    catalog   (Consul)  {a.catalog}/ui/dc1/services\n"
            f"    scheduler (Nomad)   {a.scheduler}/ui/jobs\n"
            f"    router UI (Fabio)   {a.router_ui}\n"
            f"    proxy     (Fabio)   {a.proxy}\n"
            "==> next: yurt job run jobs/job.nginx-raw.nomad, then curl "
            f"{a.proxy}/ (Ctrl-C stops everything)"
        )
        if config.acl_enabled:
            click.echo("==> Nomad's ACLs are on: `yurt acl bootstrap`, then NOMAD_TOKEN")
        if config.catalog_acl.enabled:
            click.echo(
                "==> Consul's ACLs are on: `yurt catalog acl bootstrap`, then CONSUL_HTTP_TOKEN"
            )

    async def main() -> None:
        try:
            await serve_until_signal([agent], on_ready=ready)
        finally:
            await agent.cleanup()

    try:
        run(main)
    except AgentStartError as exc:
        raise click.ClickException(str(exc)) from None

"""`yurt client`: run the Nomad client role (a node that runs tasks) alone."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from yurt.api.http import split_host_port
from yurt.cli.store_option import agent_config_from, data_dir_for

if TYPE_CHECKING:
    from yurt.agent_config import AgentConfig


@click.command(context_settings={"help_option_names": ["-h", "-help", "--help"]})
@click.option(
    "-config",
    "--config",
    "config_paths",
    multiple=True,
    help="Agent config file or directory of *.hcl and *.json (the seed's server.hcl shape); "
    "repeatable.",
)
@click.option(
    "-servers",
    "--servers",
    "servers",
    default=None,
    help="Comma-separated scheduler addresses (default: client.servers, else 127.0.0.1:4646).",
)
@click.option("-data-dir", "--data-dir", "data_dir", default=None, help="State and alloc dirs.")
@click.option("-node", "--node", "node_name", default=None, help="Node name (default: hostname).")
@click.option("-dc", "-datacenter", "--dc", "datacenter", default=None, help="Datacenter.")
@click.option("-node-class", "--node-class", "node_class", default=None)
@click.option("-meta", "--meta", "meta", multiple=True, help="Node metadata key=value; repeatable.")
@click.option(
    "-http-addr",
    "--http-addr",
    "http_addr",
    default="127.0.0.1:0",
    show_default=True,
    help="Address for the /v1/client API (port 0: any free port).",
)
@click.option(
    "-consul-addr",
    "--consul-addr",
    "consul_addr",
    default=None,
    help="Catalog address for service registration (default: consul.address, 127.0.0.1:8500).",
)
@click.option("-no-consul", "--no-consul", "no_consul", is_flag=True, help="Run without a catalog.")
@click.option(
    "-network-ip",
    "--network-ip",
    "network_ip",
    default=None,
    help="IP the node's ports are allocated on and its services advertise (default: the "
    "address of client.network_interface, else of the default route's interface, else "
    "127.0.0.1; -dev: 127.0.0.1).",
)
@click.option("-raw-exec", "--raw-exec", "raw_exec", is_flag=True, help="Enable raw_exec.")
@click.option(
    "-docker-endpoint",
    "--docker-endpoint",
    "docker_endpoint",
    default=None,
    help="Docker Engine API endpoint (default: plugin config, else DOCKER_HOST).",
)
@click.option("-dev", "--dev", is_flag=True, help="Throw-away state, raw_exec enabled.")
def client(
    config_paths: tuple[str, ...],
    servers: str | None,
    data_dir: str | None,
    node_name: str | None,
    datacenter: str | None,
    node_class: str | None,
    meta: tuple[str, ...],
    http_addr: str,
    consul_addr: str | None,
    no_consul: bool,
    network_ip: str | None,
    raw_exec: bool,
    docker_endpoint: str | None,
    dev: bool,
) -> None:
    """Run a client node (Nomad's client role) against one or more schedulers."""
    from yurt.agent_config import AgentConfig
    from yurt.api.tls import TLSConfig
    from yurt.client import ClientAgent, ClientConfig
    from yurt.client.fingerprint import NetworkError, node_network
    from yurt.runtime import run, serve_until_signal

    agent = agent_config_from([Path(p) for p in config_paths])
    base = agent or AgentConfig()
    try:
        network = node_network(base.network_interface, ip=network_ip or "", dev=dev)
    except NetworkError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        host, port = split_host_port(http_addr, 0)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="-http-addr") from None
    node_meta = dict(base.client_meta)
    for item in meta:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r}: expected key=value", param_hint="-meta")
        node_meta[key] = value
    server_list = (
        [s.strip() for s in servers.split(",") if s.strip()]
        if servers
        else (base.client_servers or ["127.0.0.1:4646"])
    )
    consul_url = None if no_consul else _consul_url(consul_addr or base.consul_address, base)
    with data_dir_for(
        data_dir,
        dev=dev,
        prefix="yurt-client-",
        default=str(base.data_dir / "client") if agent else ".yurt/client",
    ) as state_dir:
        config = ClientConfig(
            servers=server_list,
            data_dir=Path(state_dir),
            node_name=node_name or (base.name if agent else ClientConfig().node_name),
            datacenter=datacenter or base.datacenter,
            region=base.region,
            node_class=node_class if node_class is not None else base.node_class,
            meta=node_meta,
            raw_exec_enabled=raw_exec or dev or base.raw_exec_enabled,
            docker_endpoint=docker_endpoint or base.docker_endpoint,
            docker_allow_privileged=base.docker_allow_privileged,
            docker_volumes_enabled=base.docker_volumes_enabled or not agent,
            consul_addr=consul_url,
            client_service_name=base.client_service_name,
            auto_advertise=base.auto_advertise,
            http_host=host,
            http_port=port,
            network_ip=network.ip,
            network_device=network.device,
            templates=base.client_template,
            # The config's tls { } and consul { ssl ... tags }, as in `yurt up`.
            tls=base.tls,
            consul_tls=base.consul_tls or TLSConfig(),
            consul_tags=list(base.consul_tags),
            cpu_total_compute=base.cpu_total_compute,
            memory_total_mb=base.memory_total_mb,
            http_limits=base.http_limits,
            acl_token_ttl=base.acl_token_ttl_ns / 1e9,
        )

        async def main() -> None:
            await serve_until_signal([ClientAgent(config)])

        run(main)


def _consul_url(address: str, base: AgentConfig) -> str:
    """The catalog's address with the scheme that consul { ssl } asks for."""
    return base.consul_tls.url(address) if base.consul_tls is not None else address

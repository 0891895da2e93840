"""`yurt scheduler`: run the Nomad server role alone."""

from __future__ import annotations

from pathlib import Path

import click

from yurt.api.durations import parse_go_duration
from yurt.api.http import split_host_port
from yurt.cli.store_option import config_option, data_dir_for, store_from


@click.command(context_settings={"help_option_names": ["-h", "-help", "--help"]})
@click.option(
    "-http-addr",
    "--http-addr",
    "http_addr",
    default="127.0.0.1:4646",
    show_default=True,
    help="Address to serve Nomad's HTTP API on (port 0: any).",
)
@click.option(
    "-data-dir",
    "--data-dir",
    "data_dir",
    default=None,
    help="Where the state lives (default .yurt/scheduler; a temporary one with -dev).",
)
@click.option("-region", "--region", default="global", show_default=True)
@click.option("-datacenter", "-dc", "--datacenter", "datacenter", default="dc1", show_default=True)
@click.option("-dev", "--dev", is_flag=True, help="Throw-away state in a temporary directory.")
@click.option(
    "-consul-addr",
    "--consul-addr",
    "consul_addr",
    default=None,
    help="Register this server in the Consul catalog at this address.",
)
@click.option(
    "-server-service-name",
    "--server-service-name",
    "server_service_name",
    default="nomad",
    show_default=True,
    help="Service name to register in Consul.",
)
@click.option(
    "-heartbeat-ttl",
    "--heartbeat-ttl",
    "heartbeat_ttl",
    default="10s",
    show_default=True,
    help="Heartbeat TTL given to client nodes.",
)
@click.option(
    "-heartbeat-grace",
    "--heartbeat-grace",
    "heartbeat_grace",
    default="10s",
    show_default=True,
    help="Extra time past the TTL before a node is marked down.",
)
@click.option(
    "-acl-enabled",
    "--acl-enabled",
    "acl_enabled",
    is_flag=True,
    help="Turn on Nomad's ACL system (bootstrap it with `yurt acl bootstrap`).",
)
@click.option(
    "-tls-cert-file",
    "--tls-cert-file",
    "tls_cert_file",
    default=None,
    help="Serve HTTPS with this certificate (Nomad's tls { http, cert_file }).",
)
@click.option(
    "-tls-key-file",
    "--tls-key-file",
    "tls_key_file",
    default=None,
    help="The key of -tls-cert-file.",
)
@click.option(
    "-tls-ca-file",
    "--tls-ca-file",
    "tls_ca_file",
    default=None,
    help="CA that clients' certificates must be signed by (tls { ca_file }).",
)
@config_option
@click.option(
    "-tls-verify-https-client",
    "--tls-verify-https-client",
    "tls_verify_client",
    is_flag=True,
    help="Require a client certificate (tls { verify_https_client }).",
)
def scheduler(
    http_addr: str,
    data_dir: str | None,
    region: str,
    datacenter: str,
    dev: bool,
    consul_addr: str | None,
    server_service_name: str,
    heartbeat_ttl: str,
    heartbeat_grace: str,
    acl_enabled: bool,
    tls_cert_file: str | None,
    tls_key_file: str | None,
    tls_ca_file: str | None,
    tls_verify_client: bool,
    config_paths: tuple[Path, ...],
) -> None:
    """Run the scheduler (a Nomad server) on its own."""
    from yurt.api.tls import TLSConfig, TLSConfigError
    from yurt.runtime import run, serve_until_signal
    from yurt.scheduler import SchedulerConfig, SchedulerServer
    from yurt.storage.config import StoreOpenError

    try:
        host, port = split_host_port(http_addr, 4646)
        ttl = parse_go_duration(heartbeat_ttl)
        grace = parse_go_duration(heartbeat_grace)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    with data_dir_for(
        data_dir, dev=dev, prefix="yurt-scheduler-", default=".yurt/scheduler"
    ) as state_dir:
        config = SchedulerConfig(
            http_host=host,
            http_port=port,
            data_dir=Path(state_dir),
            region=region,
            datacenter=datacenter,
            consul_addr=consul_addr,
            server_service_name=server_service_name,
            heartbeat_ttl=ttl,
            heartbeat_grace=grace,
            acl_enabled=acl_enabled,
            store=store_from(config_paths),
            tls=TLSConfig(
                http=bool(tls_cert_file or tls_key_file),
                cert_file=tls_cert_file or "",
                key_file=tls_key_file or "",
                ca_file=tls_ca_file or "",
                verify_incoming=tls_verify_client,
                verify_server_hostname=False,
            ),
        )
        try:
            config.tls.check()
        except TLSConfigError as exc:
            raise click.BadParameter(str(exc), param_hint="-tls-*") from None

        async def main() -> None:
            await serve_until_signal([SchedulerServer(config)])

        try:
            run(main)
        except StoreOpenError as exc:
            raise click.ClickException(str(exc)) from None

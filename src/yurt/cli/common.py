"""Options and error handling shared by the Nomad-style and Consul-style commands."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from yurt.cli.nomad_http import TLS_FLAGS_META, NomadError, NomadHTTP

F = TypeVar("F", bound=Callable[..., Any])


def address_option(f: F) -> F:
    """`-address` as the nomad CLI takes it (NOMAD_ADDR otherwise), with the nomad CLI's
    TLS flags beside it (they win over NOMAD_CACERT and the other variables)."""
    for name, metavar, text in reversed(_TLS_FLAGS):
        f = click.option(
            f"-{name}",
            f"--{name}",
            name.replace("-", "_"),
            default=None,
            is_flag=metavar is None,
            metavar=metavar,
            expose_value=False,
            callback=_remember_tls_flag,
            help=text,
        )(f)
    f = click.option(
        "-token",
        "--token",
        default=None,
        metavar="SECRET",
        expose_value=False,
        callback=_remember_token,
        help="The ACL token's secret to send (default: NOMAD_TOKEN).",
    )(f)
    return click.option(
        "-address",
        "--address",
        "address",
        default=None,
        metavar="ADDR",
        help="The address of the Nomad-compatible server (default: NOMAD_ADDR or "
        "http://127.0.0.1:4646).",
    )(f)


# (flag, metavar or None for a switch, help), as the nomad CLI names them.
_TLS_FLAGS: list[tuple[str, str | None, str]] = [
    ("ca-cert", "FILE", "CA certificate to verify the server's (default: NOMAD_CACERT)."),
    ("ca-path", "DIR", "Directory of CA certificates (default: NOMAD_CAPATH)."),
    ("client-cert", "FILE", "Client certificate for mutual TLS (default: NOMAD_CLIENT_CERT)."),
    ("client-key", "FILE", "Key of -client-cert (default: NOMAD_CLIENT_KEY)."),
    ("tls-server-name", "NAME", "Name to verify the server's certificate against."),
    ("tls-skip-verify", None, "Do not verify the server's certificate (NOMAD_SKIP_VERIFY)."),
]


def _remember_tls_flag(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    if value and param.name:
        ctx.meta.setdefault(TLS_FLAGS_META, {})[param.name] = value


_TOKEN_META = "yurt.nomad_token"


def _remember_token(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    if value:
        ctx.meta[_TOKEN_META] = value


def nomad_command(f: F) -> F:
    """Turns NomadError into the CLI's 'Error ...' line on stderr and exit code 1."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return f(*args, **kwargs)
        except NomadError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


def fail(message: str, code: int = 1) -> None:
    click.echo(message, err=True)
    sys.exit(code)


def client(address: str | None) -> NomadHTTP:
    api = NomadHTTP.from_env(address)
    ctx = click.get_current_context(silent=True)
    if ctx is not None and ctx.meta.get(_TOKEN_META):
        api.token = str(ctx.meta[_TOKEN_META])  # -token wins over NOMAD_TOKEN, as nomad's
    return api


verbose_option = click.option("-verbose", "--verbose", is_flag=True, help="Full IDs.")


def add_status_and_list(
    group: click.Group,
    *,
    noun: str,
    plural: str,
    show: Callable[[Any, int], str],
    show_list: Callable[[list[Any], int], str],
    helps: tuple[str, str],
) -> None:
    """`<group> status ID` (an ID prefix, resolved as the nomad CLI does) and `<group> list`
    for a resource at /v1/<noun>/ID and /v1/<plural>; `show` and `show_list` format it with
    IDs cut to the length given (0 with -verbose)."""
    status_help, list_help = helps

    @group.command("status", help=status_help)
    @address_option
    @verbose_option
    @click.argument("ident", metavar=f"{str(group.name).upper()}_ID")
    @nomad_command
    def status(address: str | None, verbose: bool, ident: str) -> None:
        api = client(address)
        full = resolve_one(api, plural, noun, ident)
        click.echo(show(api.get(f"/v1/{noun}/{full}"), 0 if verbose else 8))

    @group.command("list", help=list_help)
    @address_option
    @verbose_option
    @nomad_command
    def list_(address: str | None, verbose: bool) -> None:
        items = client(address).get(f"/v1/{plural}") or []
        if not items:
            click.echo(f"No {group.name}s found")  # as nomad's: "No evals found"
            return
        click.echo(show_list(items, 0 if verbose else 8))


def resolve_one(api: NomadHTTP, kind: str, noun: str, ident: str) -> str:
    """Resolve an ID prefix (2+ characters) to one full ID, as the nomad CLI does."""
    if len(ident) < 2:
        fail("Identifier must contain at least two characters.")
    matches = api.lookup_prefix(kind, ident)
    exact = [m for m in matches if m.get("ID") == ident]
    if exact:
        return ident
    if not matches:
        fail(f"No {noun}(s) with prefix or id {ident!r} found".replace("'", '"'))
    if len(matches) > 1:
        ids = "\n".join(str(m.get("ID")) for m in matches)
        fail(f"Prefix matched multiple {noun}s\n\n{ids}")
    return str(matches[0]["ID"])

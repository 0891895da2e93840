"""Options and error handling shared by the Nomad-style and Consul-style commands."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from yurt.cli.nomad_http import NomadError, NomadHTTP

F = TypeVar("F", bound=Callable[..., Any])


def address_option(f: F) -> F:
    """`-address` as the nomad CLI takes it (NOMAD_ADDR otherwise)."""
    return click.option(
        "-address",
        "--address",
        "address",
        default=None,
        metavar="ADDR",
        help="The address of the Nomad-compatible server (default: NOMAD_ADDR or "
        "http://127.0.0.1:4646).",
    )(f)


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
    return NomadHTTP.from_env(address)


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

"""`yurt acl bootstrap | policy ... | token ...`, as `nomad acl ...` (same arguments, flags
and output)."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import click

from yurt.api.durations import parse_go_duration
from yurt.cli.common import address_option, client, nomad_command
from yurt.cli.nomad_http import NomadError
from yurt.cli.output import format_kv, format_list

Json = dict[str, Any]


def _fail(message: str) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(1)


def _time(text: str | None) -> str:
    """Go's time.Time String(): "2006-01-02 15:04:05.999999999 +0000 UTC"."""
    if not text:
        return "<none>"
    date, _, rest = text.rstrip("Z").partition("T")
    return f"{date} {rest} +0000 UTC"


def token_output(token: Json) -> str:
    policies = token.get("Policies") or []
    return format_kv(
        [
            ("Accessor ID", str(token.get("AccessorID", ""))),
            ("Secret ID", str(token.get("SecretID") or "<none>")),
            ("Name", str(token.get("Name", ""))),
            ("Type", str(token.get("Type", ""))),
            ("Global", str(bool(token.get("Global"))).lower()),
            ("Policies", f"[{' '.join(policies)}]" if policies else "n/a"),
            ("Create Time", _time(token.get("CreateTime"))),
            ("Expiry Time", _time(token.get("ExpirationTime"))),
            ("Create Index", str(token.get("CreateIndex", ""))),
            ("Modify Index", str(token.get("ModifyIndex", ""))),
        ]
    )


def _emit(data: Any, as_json: bool, text: str) -> None:
    click.echo(json.dumps(data, indent=4) if as_json else text)


def _json_option(f: Any) -> Any:
    return click.option("-json", "--json", "as_json", is_flag=True, help="Output as JSON.")(f)


@click.group("acl")
def acl() -> None:
    """Interact with ACL policies and tokens (as `nomad acl`)."""


@acl.command("bootstrap")
@click.argument("secret_file", required=False)
@address_option
@_json_option
@nomad_command
def bootstrap(secret_file: str | None, address: str | None, as_json: bool) -> None:
    """Bootstrap the ACL system and print the initial management token.

    SECRET_FILE (or "-" for stdin) holds an operator-chosen secret (a UUID)."""
    body = None
    if secret_file:
        text = sys.stdin.read() if secret_file == "-" else _read(secret_file)
        body = {"BootstrapSecret": text.strip()}
    token = client(address).post("/v1/acl/bootstrap", body)
    _emit(token, as_json, token_output(token))


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError as exc:
        reason = exc.strerror.lower() if exc.strerror else str(exc)
        _fail(f"Failed to read file: open {path}: {reason}")


# --- policies ------------------------------------------------------------------------------


@acl.group("policy")
def policy() -> None:
    """Interact with ACL policies."""


@policy.command("apply")
@click.option("-description", "--description", default="", help="The policy's description.")
@click.argument("name")
@click.argument("path")
@address_option
@nomad_command
def policy_apply(description: str, name: str, path: str, address: str | None) -> None:
    """Create or update the policy NAME with the rules in PATH ("-" for stdin)."""
    rules = sys.stdin.read() if path == "-" else _read(path)
    body = {"Name": name, "Description": description, "Rules": rules}
    api = client(address)
    try:
        api.put(f"/v1/acl/policy/{name}", body)
    except NomadError as exc:
        _fail(f"Error writing ACL policy: {exc}")
    click.echo(f'Successfully wrote "{name}" ACL policy!')


@policy.command("list")
@address_option
@_json_option
@nomad_command
def policy_list(address: str | None, as_json: bool) -> None:
    """List the ACL policies."""
    policies = client(address).get("/v1/acl/policies") or []
    if as_json:
        _emit(policies, True, "")
    elif not policies:
        click.echo("No policies found")
    else:
        rows = [["Name", "Description"]] + [
            [str(p["Name"]), str(p.get("Description") or "")] for p in policies
        ]
        click.echo(format_list(rows))


@policy.command("info")
@click.argument("name")
@address_option
@_json_option
@nomad_command
def policy_info(name: str, address: str | None, as_json: bool) -> None:
    """Show the ACL policy NAME."""
    api = client(address)
    try:
        found = api.get(f"/v1/acl/policy/{name}")
    except NomadError as exc:
        _fail(f"Error fetching info on ACL policy: {exc}")
    text = format_kv(
        [
            ("Name", str(found["Name"])),
            ("Description", str(found.get("Description") or "")),
            ("Rules", str(found.get("Rules") or "").rstrip("\n")),
            ("CreateIndex", str(found["CreateIndex"])),
            ("ModifyIndex", str(found["ModifyIndex"])),
        ]
    )
    _emit(found, as_json, text)


@policy.command("delete")
@click.argument("name")
@address_option
@nomad_command
def policy_delete(name: str, address: str | None) -> None:
    """Delete the ACL policy NAME."""
    api = client(address)
    try:
        api.delete(f"/v1/acl/policy/{name}")
    except NomadError as exc:
        _fail(f"Error deleting ACL policy: {exc}")
    click.echo(f"Successfully deleted {name} policy!")


# --- tokens --------------------------------------------------------------------------------


@acl.group("token")
def token() -> None:
    """Interact with ACL tokens."""


def _ttl_ns(ttl: str) -> int:
    try:
        return parse_go_duration(ttl)
    except ValueError as exc:
        _fail(f"Failed to parse TTL as time duration: {exc}")


@token.command("create")
@click.option("-name", "--name", default="", help="The token's name.")
@click.option("-type", "--type", "kind", default="client", show_default=True)
@click.option("-global", "--global", "is_global", is_flag=True, help="A global token.")
@click.option("-policy", "--policy", "policies", multiple=True, help="A policy (repeatable).")
@click.option("-ttl", "--ttl", default="", help="Expire the token after this long (e.g. 8h).")
@address_option
@_json_option
@nomad_command
def token_create(
    name: str,
    kind: str,
    is_global: bool,
    policies: tuple[str, ...],
    ttl: str,
    address: str | None,
    as_json: bool,
) -> None:
    """Create an ACL token."""
    body: Json = {"Name": name, "Type": kind, "Policies": list(policies), "Global": is_global}
    if ttl:
        body["ExpirationTTL"] = _ttl_ns(ttl)
    api = client(address)
    try:
        created = api.post("/v1/acl/token", body)
    except NomadError as exc:
        _fail(f"Error submitting ACL token: {exc}")
    _emit(created, as_json, token_output(created))


@token.command("update")
@click.option("-name", "--name", default=None, help="The token's new name.")
@click.option("-type", "--type", "kind", default=None, help="client or management.")
@click.option("-policy", "--policy", "policies", multiple=True, help="A policy (repeatable).")
@click.argument("accessor")
@address_option
@_json_option
@nomad_command
def token_update(
    name: str | None,
    kind: str | None,
    policies: tuple[str, ...],
    accessor: str,
    address: str | None,
    as_json: bool,
) -> None:
    """Update the ACL token ACCESSOR (its name, type or policies)."""
    api = client(address)
    try:
        current = api.get(f"/v1/acl/token/{accessor}")
    except NomadError as exc:
        _fail(f"Error fetching token: {exc}")
    body = dict(current)
    if name is not None:
        body["Name"] = name
    if kind is not None:
        body["Type"] = kind
    if policies:
        body["Policies"] = list(policies)
    try:
        updated = api.post(f"/v1/acl/token/{accessor}", body)
    except NomadError as exc:
        _fail(f"Error updating token: {exc}")
    _emit(updated, as_json, token_output(updated))


@token.command("info")
@click.argument("accessor")
@address_option
@_json_option
@nomad_command
def token_info(accessor: str, address: str | None, as_json: bool) -> None:
    """Show the ACL token ACCESSOR."""
    api = client(address)
    try:
        found = api.get(f"/v1/acl/token/{accessor}")
    except NomadError as exc:
        _fail(f"Error fetching token: {exc}")
    _emit(found, as_json, token_output(found))


@token.command("self")
@address_option
@_json_option
@nomad_command
def token_self(address: str | None, as_json: bool) -> None:
    """Show the token this command runs with (NOMAD_TOKEN or -token)."""
    api = client(address)
    try:
        found = api.get("/v1/acl/token/self")
    except NomadError as exc:
        _fail(f"Error fetching self token: {exc}")
    _emit(found, as_json, token_output(found))


@token.command("list")
@address_option
@_json_option
@nomad_command
def token_list(address: str | None, as_json: bool) -> None:
    """List the ACL tokens."""
    api = client(address)
    try:
        tokens = api.get("/v1/acl/tokens") or []
    except NomadError as exc:
        _fail(f"Error listing tokens: {exc}")
    if as_json:
        _emit(tokens, True, "")
        return
    if not tokens:
        click.echo("No tokens found")
        return
    rows = [["Name", "Type", "Global", "Accessor ID", "Expired"]]
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    for t in tokens:
        ends = t.get("ExpirationTime")
        expired = str(bool(ends) and str(ends)[:19] <= now).lower()
        rows.append(
            [
                str(t.get("Name") or "<none>"),
                str(t.get("Type")),
                str(bool(t.get("Global"))).lower(),
                str(t["AccessorID"]),
                expired,
            ]
        )
    click.echo(format_list(rows))


@token.command("delete")
@click.argument("accessor")
@address_option
@nomad_command
def token_delete(accessor: str, address: str | None) -> None:
    """Delete the ACL token ACCESSOR."""
    api = client(address)
    try:
        api.delete(f"/v1/acl/token/{accessor}")
    except NomadError as exc:
        _fail(f"Error deleting token: {exc}")
    click.echo(f"Token {accessor} successfully deleted")

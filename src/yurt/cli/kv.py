"""`yurt kv get|put|delete`: Consul's KV commands, with the consul CLI's output and exit codes."""

from __future__ import annotations

import base64
import json
import sys
from typing import Any

import click

from yurt.cli._consul_http import ConsulHTTPError, http_addr_option, request

_CONTEXT = {"help_option_names": ["-h", "-help", "--help"]}


@click.group("kv", context_settings=_CONTEXT)
def kv() -> None:
    """Read and write Consul's key/value store."""


def _value_text(raw: str | None, as_base64: bool) -> str:
    data = base64.b64decode(raw) if raw else b""
    if as_base64:
        return base64.b64encode(data).decode()
    return data.decode("utf-8", errors="replace")


def _detailed(entry: dict[str, Any], as_base64: bool) -> str:
    # consul prints these with a tabwriter (padding 6), in this order
    rows = [
        ("CreateIndex", str(entry["CreateIndex"])),
        ("Flags", str(entry["Flags"])),
        ("Key", entry["Key"]),
        ("LockIndex", str(entry["LockIndex"])),
        ("ModifyIndex", str(entry["ModifyIndex"])),
        ("Session", entry.get("Session") or "-"),
        ("Value", _value_text(entry.get("Value"), as_base64)),
    ]
    width = max(len(k) for k, _ in rows) + 6
    return "\n".join(f"{k:<{width}}{v}" for k, v in rows)


@kv.command("get")
@http_addr_option
@click.option("-recurse", "--recurse", is_flag=True, help="Every key under the prefix.")
@click.option("-keys", "--keys", "keys_only", is_flag=True, help="Only the key names.")
@click.option(
    "-separator",
    "--separator",
    default="/",
    show_default=True,
    help="With -keys: list keys only up to this string.",
)
@click.option("-detailed", "--detailed", is_flag=True, help="Show the entry's metadata too.")
@click.option("-base64", "--base64", "as_base64", is_flag=True, help="Base64-encode the value.")
@click.argument("key", required=False, default="")
def get(
    http_addr: str | None,
    recurse: bool,
    keys_only: bool,
    separator: str,
    detailed: bool,
    as_base64: bool,
    key: str,
) -> None:
    """Print the value at KEY (or the entries under a prefix with -recurse)."""
    if keys_only and recurse:
        raise click.UsageError("Cannot specify both -keys and -recurse!")
    if not key and not (keys_only or recurse):
        raise click.UsageError("Missing KEY argument")
    key = key.lstrip("/") if key != "/" else ""
    if keys_only:
        query = {"keys": ""}
        if separator:
            query["separator"] = separator
        status, body = request(http_addr, "GET", f"/v1/kv/{key}", query=query, allow_404=True)
        for name in json.loads(body) if status == 200 else []:
            click.echo(name)
        return
    if recurse:
        status, body = request(
            http_addr, "GET", f"/v1/kv/{key}", query={"recurse": ""}, allow_404=True
        )
        entries = json.loads(body) if status == 200 else []
        for i, entry in enumerate(entries):
            if detailed:
                click.echo(_detailed(entry, as_base64))
                if i < len(entries) - 1:
                    click.echo()
            else:
                click.echo(f"{entry['Key']}:{_value_text(entry.get('Value'), as_base64)}")
        return
    status, body = request(http_addr, "GET", f"/v1/kv/{key}", allow_404=True)
    if status == 404:
        click.echo(f"Error! No key exists at: {key}", err=True)
        sys.exit(1)
    entry = json.loads(body)[0]
    if detailed:
        click.echo(_detailed(entry, as_base64))
    else:
        click.echo(_value_text(entry.get("Value"), as_base64))


def _read_value(value: str | None, as_base64: bool) -> bytes:
    if value is None:
        return b""
    if value == "-":
        data = sys.stdin.buffer.read()
    elif value.startswith("@"):
        path = value[1:]
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as exc:
            raise click.ClickException(f"Failed to read file {path!r}: {exc.strerror}") from None
    else:
        data = value.encode()
    if as_base64:
        try:
            return base64.b64decode(data, validate=True)
        except ValueError:
            raise click.ClickException("Error! Cannot base 64 decode the data") from None
    return data


@kv.command("put")
@http_addr_option
@click.option("-cas", "--cas", is_flag=True, help="Write only if -modify-index still matches.")
@click.option("-modify-index", "--modify-index", "modify_index", type=int, default=0)
@click.option("-flags", "--flags", "flags", type=int, default=0, help="Opaque unsigned flags.")
@click.option("-base64", "--base64", "as_base64", is_flag=True, help="DATA is base64-encoded.")
@click.argument("key")
@click.argument("value", required=False)
def put(
    http_addr: str | None,
    cas: bool,
    modify_index: int,
    flags: int,
    as_base64: bool,
    key: str,
    value: str | None,
) -> None:
    """Write VALUE at KEY (`@file` reads a file, `-` standard input)."""
    data = _read_value(value, as_base64)
    query: dict[str, str] = {}
    if flags:
        query["flags"] = str(flags)
    if cas:
        query["cas"] = str(modify_index)
    _, body = request(http_addr, "PUT", f"/v1/kv/{key}", query=query, body=data)
    if not json.loads(body):
        click.echo(f"Error! Did not write to {key}: CAS failed", err=True)
        sys.exit(1)
    click.echo(f"Success! Data written to: {key}")


@kv.command("delete")
@http_addr_option
@click.option("-recurse", "--recurse", is_flag=True, help="Delete every key under the prefix.")
@click.option("-cas", "--cas", is_flag=True, help="Delete only if -modify-index still matches.")
@click.option("-modify-index", "--modify-index", "modify_index", type=int, default=0)
@click.argument("key", required=False, default="")
def delete(http_addr: str | None, recurse: bool, cas: bool, modify_index: int, key: str) -> None:
    """Delete KEY (or, with -recurse, every key under the prefix)."""
    if cas and recurse:
        raise click.UsageError("Cannot specify both -cas and -recurse!")
    if not key and not recurse:
        raise click.UsageError("Missing KEY argument")
    query: dict[str, str] = {}
    if recurse:
        query["recurse"] = ""
    if cas:
        query["cas"] = str(modify_index)
    try:
        _, body = request(http_addr, "DELETE", f"/v1/kv/{key}", query=query)
    except ConsulHTTPError as exc:
        raise click.ClickException(f"Error! Did not delete key {key}: {exc.message}") from None
    if not json.loads(body):
        click.echo(f"Error! Did not delete key {key}: CAS failed", err=True)
        sys.exit(1)
    if recurse:
        click.echo(f"Success! Deleted keys with prefix: {key}")
    else:
        click.echo(f"Success! Deleted key: {key}")


@kv.command("export")
@http_addr_option
@click.argument("prefix", required=False, default="")
def export(http_addr: str | None, prefix: str) -> None:
    """Print the keys under PREFIX as JSON, for `yurt kv import` (as `consul kv export`)."""
    status, body = request(
        http_addr, "GET", f"/v1/kv/{prefix.lstrip('/')}", query={"recurse": ""}, allow_404=True
    )
    entries = json.loads(body) if status == 200 else []
    exported = [
        {"key": e["Key"], "flags": e["Flags"], "value": e.get("Value") or ""} for e in entries
    ]
    click.echo(json.dumps(exported, indent="\t"))


@kv.command("import")
@http_addr_option
@click.option("-prefix", "--prefix", default="", help="Prepended to every imported key.")
@click.argument("data")
def import_(http_addr: str | None, prefix: str, data: str) -> None:
    """Write the keys of a `yurt kv export` document (DATA, `@file` or `-`)."""
    raw = _read_value(data, False)
    try:
        entries: Any = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise click.ClickException(
            f"Failed to decode data: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    if not isinstance(entries, list):
        raise click.ClickException("Failed to decode data: expected a JSON array of entries")
    pairs: list[tuple[str, int, bytes]] = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("key"), str):
            raise click.ClickException(f'entry {i}: expected {{"key", "flags", "value"}}')
        try:
            value = base64.b64decode(entry.get("value") or "", validate=True)
        except ValueError:
            raise click.ClickException(f"entry {i} ({entry['key']}): value is not base64") from None
        pairs.append((prefix + entry["key"], int(entry.get("flags") or 0), value))
    for key, flags, value in pairs:
        query = {"flags": str(flags)} if flags else None
        request(http_addr, "PUT", f"/v1/kv/{key}", query=query, body=value)
        click.echo(f"Imported: {key}")

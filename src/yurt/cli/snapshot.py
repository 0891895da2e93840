"""`yurt snapshot save|restore|inspect`: Consul's snapshot commands, on yurt's archive.

The file is Consul's envelope (a gzip'ed tar of meta.json, state.bin and SHA256SUMS, see
catalog/snapshot_envelope.py) holding yurt's own state (gzip'ed JSON lines of every table, see
docs/storage.md): the real `consul snapshot save|restore` handle it too, but it restores into a
yurt catalog, not into Consul, and the other way round. Output and exit codes are the consul
CLI's.
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter

import click

from yurt.catalog.snapshot_envelope import EnvelopeError, is_envelope, unwrap
from yurt.cli._consul_http import ConsulHTTPError, http_addr_option, request
from yurt.storage.archive import Archive, ArchiveError, decode

_CONTEXT = {"help_option_names": ["-h", "-help", "--help"]}


@click.group("snapshot", context_settings=_CONTEXT)
def snapshot() -> None:
    """Save, restore and inspect snapshots of the catalog's state."""


def _read_archive(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise ConsulHTTPError(f"Error opening snapshot file: {exc}") from None


def _decode(data: bytes) -> Archive:
    """The archive in a snapshot file: inside Consul's envelope, or bare (older saves)."""
    try:
        return decode(unwrap(data) if is_envelope(data) else data)
    except (ArchiveError, EnvelopeError) as exc:
        raise ArchiveError(str(exc)) from None


@snapshot.command("save")
@http_addr_option
@click.option("-stale", "--stale", is_flag=True, help="Let any server answer (yurt: the one).")
@click.argument("file")
def save(http_addr: str | None, stale: bool, file: str) -> None:
    """Save the catalog's whole state to FILE."""
    query = {"stale": ""} if stale else None
    _, data = request(http_addr, "GET", "/v1/snapshot", query=query)
    try:
        got = _decode(data)
    except ArchiveError as exc:
        raise ConsulHTTPError(f"Error verifying snapshot file: {exc}") from None
    # written beside the target and renamed, so a failed save never leaves half a file
    directory = os.path.dirname(os.path.abspath(file))
    fd, tmp = tempfile.mkstemp(prefix=".snapshot-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, file)
    except OSError as exc:
        os.unlink(tmp)
        raise ConsulHTTPError(f"Error writing snapshot file: {exc}") from None
    click.echo(f"Saved and verified snapshot to index {got.index}")


@snapshot.command("restore")
@http_addr_option
@click.argument("file")
def restore(http_addr: str | None, file: str) -> None:
    """Replace the catalog's whole state with FILE's."""
    data = _read_archive(file)
    try:
        _decode(data)
    except ArchiveError as exc:
        raise ConsulHTTPError(f"Error verifying snapshot file: {exc}") from None
    try:
        request(http_addr, "PUT", "/v1/snapshot", body=data)
    except ConsulHTTPError as exc:
        raise ConsulHTTPError(f"Error restoring snapshot: {exc.message}") from None
    click.echo("Restored snapshot")


@snapshot.command("inspect")
@click.argument("file")
def inspect(file: str) -> None:
    """Show what FILE holds: its index, size and the rows of each table."""
    data = _read_archive(file)
    try:
        got = _decode(data)
    except ArchiveError as exc:
        raise ConsulHTTPError(f"Error inspecting snapshot: {exc}") from None
    rows = [
        ("ID", f"yurt-{got.index}"),
        ("Size", str(len(data))),
        ("Index", str(got.index)),
        ("Version", "1"),
    ]
    width = max(len(k) for k, _ in rows) + 6
    click.echo("\n".join(f" {k:<{width}}{v}" for k, v in rows))
    counts = Counter(table for table, _, _ in got.rows)
    if counts:
        click.echo("")
        name_w = max(len("Type"), *(len(t) for t in counts)) + 4
        click.echo(f" {'Type':<{name_w}}Count")
        click.echo(f" {'----':<{name_w}}-----")
        for table in sorted(counts):
            click.echo(f" {table:<{name_w}}{counts[table]}")

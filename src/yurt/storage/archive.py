"""The snapshot archive every backend writes and reads: gzip'ed JSON lines.

The first line is a header naming the format and the index; then one `[table, key, value]`
line per row. It holds documents, not a backend's files, so a snapshot of one backend
restores into another (SQLite to etcd, and back).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from yurt.storage.interface import JSONValue

FORMAT = "yurt-store-snapshot"
VERSION = 1

# (table, key, value as JSON text)
Row = tuple[str, str, str]


class ArchiveError(ValueError):
    """Bytes that are not a snapshot this code can read."""


@dataclass(frozen=True)
class Archive:
    index: int
    rows: list[tuple[str, str, JSONValue]]


def encode(index: int, rows: Iterable[Row]) -> bytes:
    lines = [json.dumps({"format": FORMAT, "version": VERSION, "index": index})]
    # the value is already JSON text: spliced in, not parsed and dumped again
    lines.extend(f"[{json.dumps(t)},{json.dumps(k)},{v}]" for t, k, v in rows)
    return gzip.compress(("\n".join(lines) + "\n").encode(), compresslevel=6)


def decode(archive: bytes) -> Archive:
    try:
        text = gzip.decompress(archive).decode()
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise ArchiveError(f"not a store snapshot: {exc}") from None
    lines = _lines(text)
    try:
        header = json.loads(next(lines))
    except (StopIteration, ValueError):
        raise ArchiveError("not a store snapshot: no header") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ArchiveError("not a store snapshot: unknown format")
    if header.get("version") != VERSION:
        raise ArchiveError(f"store snapshot version {header.get('version')!r} is not {VERSION}")
    index = header.get("index")
    if not isinstance(index, int) or index < 1:
        raise ArchiveError("store snapshot: bad index")
    rows: list[tuple[str, str, JSONValue]] = []
    for line in lines:
        try:
            table, key, value = json.loads(line)
        except (ValueError, TypeError):
            raise ArchiveError("store snapshot: bad row") from None
        if not isinstance(table, str) or not isinstance(key, str):
            raise ArchiveError("store snapshot: bad row")
        rows.append((table, key, value))
    return Archive(index=index, rows=rows)


def _lines(text: str) -> Iterator[str]:
    return (line for line in text.split("\n") if line)

"""Where the store interface's rows live in etcd's one flat key space (pure, no I/O).

Under a store's prefix (`/yurt/catalog`, `/yurt/scheduler`):

    <prefix>/<table>/<key>          a row; its value is the row's JSON text
    <prefix>/%order/<table>/<key>   the row's place in its table's first-written order
    <prefix>/%meta/index            the store's index (decimal text)

Tables and keys are escaped (`%` `/` and NUL as `%25` `%2F` `%00`): the catalog's keys hold
`\\0` and `/`, and an escaped table can never be `%order` or `%meta`.

Why an order key: `load()` answers rows in the order they were first written, and etcd only
records a key's create revision, the same for every key a `Txn` creates. The order key is
written when its row is created (a nested Txn: only if it does not exist yet), with the
row's position in the batch; its mod revision and that position give the order, and a
replacement of the row leaves it alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ORDER = "%order"
META = "%meta"

_ESCAPES = {"%": "%25", "/": "%2F", "\0": "%00"}
_ESCAPE = re.compile("[%/\0]")
_UNESCAPE = re.compile("%(25|2F|00)")
_UNESCAPES = {v[1:]: k for k, v in _ESCAPES.items()}


def escape(part: str) -> str:
    return _ESCAPE.sub(lambda m: _ESCAPES[m.group(0)], part)


def unescape(part: str) -> str:
    return _UNESCAPE.sub(lambda m: _UNESCAPES[m.group(1)], part)


@dataclass(frozen=True)
class Place:
    """What one etcd key under a store's prefix is."""

    kind: str  # "row", "order", "index" or "" (not ours)
    table: str = ""
    key: str = ""


@dataclass(frozen=True)
class Layout:
    prefix: str  # without a trailing "/"

    @classmethod
    def of(cls, prefix: str) -> Layout:
        cleaned = prefix.rstrip("/")
        if not cleaned:
            raise ValueError("the etcd prefix must not be empty or '/'")
        return cls(cleaned)

    @property
    def root(self) -> bytes:
        """The prefix of every key of this store."""
        return f"{self.prefix}/".encode()

    @property
    def index(self) -> bytes:
        return f"{self.prefix}/{META}/index".encode()

    def table(self, table: str) -> bytes:
        return f"{self.prefix}/{escape(table)}/".encode()

    def order_table(self, table: str) -> bytes:
        return f"{self.prefix}/{ORDER}/{escape(table)}/".encode()

    def row(self, table: str, key: str) -> bytes:
        return self.table(table) + escape(key).encode()

    def order(self, table: str, key: str) -> bytes:
        return self.order_table(table) + escape(key).encode()

    def place(self, etcd_key: bytes) -> Place:
        text = etcd_key.decode()
        root = f"{self.prefix}/"
        if not text.startswith(root):
            return Place("")
        rest = text[len(root) :]
        if rest == f"{META}/index":
            return Place("index")
        kind = "row"
        if rest.startswith(f"{ORDER}/"):
            kind, rest = "order", rest[len(ORDER) + 1 :]
        table, slash, key = rest.partition("/")
        if not slash or table in (ORDER, META):
            return Place("")
        return Place(kind, unescape(table), unescape(key))


def first_written(position: bytes, mod_revision: int) -> tuple[int, int]:
    """A row's place in its table: the revision its order key was written at (the row's
    creation) and its position in that batch; a row without an order key (written by hand)
    goes by its create revision, after the rows of that revision that have one."""
    try:
        return mod_revision, int(position)
    except ValueError:
        return mod_revision, 1 << 62

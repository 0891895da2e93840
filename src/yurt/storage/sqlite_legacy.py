"""Data directories written before the store interface: the catalog's typed SQLite tables.

Until then the catalog kept one SQL table per record type (`nodes`, `services`, `kv`, ...)
where the scheduler already kept `objects(kind, key, body)`. On first open, each legacy
table's rows move into `objects` under a table of the same name, in the transaction that
drops the legacy table, with the keys and documents the catalog's store reads today:

- `services` and `checks`: key `<node>\\0<id>`; the others: their one-column primary key;
- the JSON `data` columns as they are; indexes (`kv_tombstones`, `topic_index`) as numbers;
  `acl_meta` values as JSON strings;
- `kv` rows as `{"key", "value" (base64, or null), "flags", "lock_index", "session",
  "create_index", "modify_index"}`.

The index (`yurt_meta`) is untouched, so it goes on from where it was.
"""

from __future__ import annotations

import base64
import json
import logging
import sqlite3
from typing import Any

log = logging.getLogger(__name__)

# legacy table -> SELECT giving (key, JSON text) in the order rows were written
_VERBATIM = {
    "nodes": "SELECT name, data FROM nodes ORDER BY rowid",
    "services": "SELECT node || char(0) || id, data FROM services ORDER BY rowid",
    "checks": "SELECT node || char(0) || check_id, data FROM checks ORDER BY rowid",
    "sessions": "SELECT id, data FROM sessions ORDER BY rowid",
    "kv_tombstones": "SELECT key, CAST(idx AS TEXT) FROM kv_tombstones ORDER BY rowid",
    "topic_index": "SELECT topic, CAST(idx AS TEXT) FROM topic_index ORDER BY rowid",
    "acl_policies": "SELECT id, data FROM acl_policies ORDER BY rowid",
    "acl_tokens": "SELECT accessor, data FROM acl_tokens ORDER BY rowid",
    "acl_roles": "SELECT id, data FROM acl_roles ORDER BY rowid",
}
_KV = (
    "SELECT key, value, flags, lock_index, session, create_index, modify_index"
    " FROM kv ORDER BY rowid"
)
_INSERT = "INSERT OR REPLACE INTO objects(kind, key, body) VALUES(?, ?, ?)"


def kv_document(row: tuple[Any, ...]) -> str:
    key, value, flags, lock_index, session, create_index, modify_index = row
    return json.dumps(
        {
            "key": key,
            "value": None if value is None else base64.b64encode(bytes(value)).decode(),
            "flags": flags,
            "lock_index": lock_index,
            "session": session,
            "create_index": create_index,
            "modify_index": modify_index,
        },
        separators=(",", ":"),
    )


def migrate_legacy_tables(conn: sqlite3.Connection) -> None:
    """Move every legacy table's rows into `objects` (inside the caller's transaction)."""
    present = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    for table, select in _VERBATIM.items():
        if table in present:
            rows = conn.execute(select).fetchall()
            conn.executemany(_INSERT, ((table, k, body) for k, body in rows))
            conn.execute(f"DROP TABLE {table}")
            log.info("moved %d rows of legacy table %s into objects", len(rows), table)
    if "kv" in present:
        rows = conn.execute(_KV).fetchall()
        conn.executemany(_INSERT, (("kv", r[0], kv_document(tuple(r))) for r in rows))
        conn.execute("DROP TABLE kv")
        log.info("moved %d rows of legacy table kv into objects", len(rows))
    if "acl_meta" in present:
        rows = conn.execute("SELECT key, value FROM acl_meta ORDER BY rowid").fetchall()
        conn.executemany(_INSERT, (("acl_meta", k, json.dumps(v)) for k, v in rows))
        conn.execute("DROP TABLE acl_meta")

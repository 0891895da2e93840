"""`PUT /v1/txn`: Consul's transactions, for KV operations: all of them apply, under one
index, or none does."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
from typing import Any

from aiohttp import web

from yurt.api import routes
from yurt.api.casing import get_field
from yurt.api.errors import APIError
from yurt.api.http import flag, json_type_name, read_json
from yurt.catalog.acl_http import FILTERED_HEADER, authz, checked, denied
from yurt.catalog.api_common import answer, check_datacenter, server_of, stream_json_list
from yurt.catalog.api_kv import MAX_VALUE_SIZE, STREAM_ABOVE
from yurt.catalog.model import KVEntry
from yurt.catalog.store_txn import TXN_KV_VERBS, KVOp

# "up to 64 KV operations atomically", as Consul documents
MAX_OPS = 64


def _result(entry: KVEntry, with_value: bool) -> dict[str, Any]:
    """A result as Consul writes it: `Value` only for reads (null, not omitted, otherwise)."""
    return (entry if with_value else dataclasses.replace(entry, value=None)).to_json()


def _op(i: int, item: Any) -> KVOp:
    where = f"[{i}]"
    if not isinstance(item, dict):
        raise APIError.bad_request(
            f"Failed to parse body: {where}: expected an object, got {json_type_name(item)}"
        )
    kv = get_field(item, "KV")
    if kv is None:
        kinds = ", ".join(sorted(item)) or "nothing"
        raise APIError.bad_request(
            f"Failed to parse body: {where}: only KV operations are supported, got {kinds}"
        )
    if not isinstance(kv, dict):
        raise APIError.bad_request(f"Failed to parse body: {where}.KV: expected an object")
    verb = get_field(kv, "Verb", "")
    if verb not in TXN_KV_VERBS:
        raise APIError.bad_request(
            f"Failed to parse body: {where}.KV.Verb: unknown verb {verb!r} "
            f"(expected one of {', '.join(TXN_KV_VERBS)})"
        )
    key = get_field(kv, "Key", "")
    session = get_field(kv, "Session", "") or ""
    if not isinstance(key, str) or not isinstance(session, str):
        raise APIError.bad_request(f"Failed to parse body: {where}.KV: Key and Session are strings")
    raw = get_field(kv, "Value") or ""
    if not isinstance(raw, str):
        raise APIError.bad_request(f"Failed to parse body: {where}.KV.Value: expected base64 text")
    try:
        value = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise APIError.bad_request(
            f"Failed to parse body: {where}.KV.Value: not valid base64"
        ) from None
    if len(value) > MAX_VALUE_SIZE:
        raise APIError.too_large(
            f"Value for key {key!r} is too large ({len(value)} > {MAX_VALUE_SIZE} bytes)"
        )
    numbers = {}
    for name in ("Flags", "Index"):
        number = get_field(kv, name) or 0
        if isinstance(number, bool) or not isinstance(number, int) or number < 0:
            raise APIError.bad_request(
                f"Failed to parse body: {where}.KV.{name}: expected an unsigned integer"
            )
        numbers[name] = number
    return KVOp(
        verb=verb,
        key=key,
        value=value,
        flags=numbers["Flags"],
        index=numbers["Index"],
        session=session,
    )


# What each verb needs on its key, as Consul's transaction endpoint checks them one by one.
_READ_VERBS = frozenset({"get", "get-tree", "check-index", "check-session", "check-not-exists"})


def _acl_errors(request: web.Request, ops: list[KVOp]) -> list[tuple[int, str]]:
    who = authz(request)
    errors = []
    for i, op in enumerate(ops):
        if op.verb == "delete-tree":
            ok, need = who.key_write_prefix(op.key), "write"
        elif op.verb in _READ_VERBS:
            ok, need = who.key_read(op.key), "read"
        else:
            ok, need = who.key_write(op.key), "write"
        if not ok:
            errors.append((i, denied(who, "key", need, op.key).message))
    return errors


@checked("key:read or key:write on each operation's key")
async def txn(request: web.Request) -> web.StreamResponse:
    server = server_of(request)
    check_datacenter(request)
    body = await read_json(request)
    if not isinstance(body, list):
        raise APIError.bad_request(
            f"Failed to parse body: expected an array of operations, got {json_type_name(body)}"
        )
    if len(body) > MAX_OPS:
        raise APIError.too_large(
            f"Transaction contains too many operations ({len(body)} > {MAX_OPS})"
        )
    ops = [_op(i, item) for i, item in enumerate(body)]
    errors = _acl_errors(request, ops)
    results: list[tuple[KVEntry, bool]] = []
    if not errors:
        results, errors = server.store.kv_txn(ops)
    if errors:
        return answer(
            request,
            {"Results": None, "Errors": [{"OpIndex": i, "What": what} for i, what in errors]},
            status=409,
        )
    who = authz(request)
    shown = [r for r in results if who.key_read(r[0].key)]
    read = sum(len(e.value or b"") for e, with_value in shown if with_value)
    if read > STREAM_ABOVE and not flag(request, "pretty"):
        # 64 reads of 512 KB values (or one `get-tree`): a 45 MB answer or more, which
        # encoded at once would hold the loop for 0.3 s and up.
        headers = {FILTERED_HEADER: "true"} if len(shown) != len(results) else {}
        return await stream_json_list(
            request,
            shown,
            lambda r: json.dumps({"KV": _result(*r)}),
            headers,
            head='{"Results": [',
            tail='], "Errors": null}',
        )
    resp = answer(
        request, {"Results": [{"KV": _result(*r)} for r in shown] or None, "Errors": None}
    )
    if len(shown) != len(results):
        resp.headers[FILTERED_HEADER] = "true"
    return resp


# This resource's endpoints; `yurt.catalog.app` installs every table.
ROUTES = (routes.put("/v1/txn", txn),)

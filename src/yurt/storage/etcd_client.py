"""A small synchronous client for etcd's v3 API through its gRPC gateway (JSON over HTTP).

etcd 3.4 (Debian's `etcd-server`) answers every v3 call as `POST /v3/<service>/<method>`
with the request's protobuf message in JSON: keys and values base64, 64-bit integers as
strings, fields at their default value left out (a Txn whose compare failed has no
`succeeded`). One persistent HTTP connection is kept per client; on a connection error it
moves to the next endpoint. A request that may have reached etcd before the connection broke
is not sent again (a write would then be applied twice, or acknowledged without knowing):
the error goes to the caller, as for any failed commit.

Watches stream on their own connection (`watch()`), one JSON message per line.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from yurt.storage.config import EtcdTLS

# A request's timeout; a Txn of 20,000 rows takes about a second on a quiet machine.
TIMEOUT = 30.0

JSONObject = dict[str, Any]


# how long a read is tried again while etcd is unavailable (an etcd election takes ~1 s)
READ_RETRY = 5.0


class EtcdError(RuntimeError):
    """etcd refused a request (its gRPC status message), or no endpoint answered."""


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str | None) -> bytes:
    return base64.b64decode(text) if text else b""


@dataclass(frozen=True)
class KeyValue:
    key: bytes
    value: bytes
    create_revision: int
    mod_revision: int

    @classmethod
    def from_json(cls, kv: JSONObject) -> KeyValue:
        return cls(
            key=unb64(kv.get("key")),
            value=unb64(kv.get("value")),
            create_revision=int(kv.get("create_revision", 0)),
            mod_revision=int(kv.get("mod_revision", 0)),
        )


def prefix_end(prefix: bytes) -> bytes:
    """The `range_end` that selects every key starting with `prefix`."""
    end = bytearray(prefix)
    while end:
        if end[-1] < 0xFF:
            end[-1] += 1
            return bytes(end)
        end.pop()
    return b"\x00"  # every key


# --- the messages of a Txn (etcdserverpb.RequestOp / Compare) ---


def op_put(key: bytes, value: bytes, lease: int = 0) -> JSONObject:
    put: JSONObject = {"key": b64(key), "value": b64(value)}
    if lease:
        put["lease"] = str(lease)  # the key goes when the lease does
    return {"request_put": put}


def op_range(key: bytes) -> JSONObject:
    return {"request_range": {"key": b64(key)}}


def op_delete(key: bytes) -> JSONObject:
    return {"request_delete_range": {"key": b64(key)}}


def op_txn(compare: list[JSONObject], success: list[JSONObject]) -> JSONObject:
    return {"request_txn": {"compare": compare, "success": success}}


def mod_revision_is(key: bytes, revision: int) -> JSONObject:
    """True when `key` was last written at `revision` (0: the key does not exist)."""
    return {"key": b64(key), "target": "MOD", "result": "EQUAL", "mod_revision": str(revision)}


def absent(key: bytes) -> JSONObject:
    return {"key": b64(key), "target": "CREATE", "result": "EQUAL", "create_revision": "0"}


def created_at(key: bytes, revision: int) -> JSONObject:
    """True when `key` exists and was created at `revision` (the leader key's fence)."""
    return {
        "key": b64(key),
        "target": "CREATE",
        "result": "EQUAL",
        "create_revision": str(revision),
    }


class EtcdClient:
    """The v3 calls the store backend makes, over one persistent connection."""

    def __init__(
        self,
        endpoints: list[str],
        tls: EtcdTLS | None = None,
        *,
        timeout: float = TIMEOUT,
        read_retry: float = READ_RETRY,
    ) -> None:
        if not endpoints:
            raise ValueError("etcd: no endpoints")
        self.endpoints = list(endpoints)
        # the leader election's client waits less than a lease lives (cluster/leader.py),
        # and does not wait out an unavailable etcd: it must decide, not block
        self.timeout = timeout
        self.read_retry = read_retry
        self._tls = tls
        self._ssl = tls.context() if tls else None
        self._current = 0
        self._conn: http.client.HTTPConnection | None = None

    def connect(self, endpoint: str, timeout: float | None) -> http.client.HTTPConnection:
        url = urlsplit(endpoint if "://" in endpoint else f"http://{endpoint}")
        host = url.hostname or "127.0.0.1"
        if url.scheme == "https":
            ctx = self._ssl or ssl.create_default_context()
            return http.client.HTTPSConnection(host, url.port or 2379, timeout=timeout, context=ctx)
        return http.client.HTTPConnection(host, url.port or 2379, timeout=timeout)

    def call(self, path: str, body: JSONObject, *, read: bool = False) -> JSONObject:
        """POST one request; fails over to the next endpoint when none was sent, or, for a
        `read`, when the connection broke (an idle connection etcd closed, a member that
        went away), or while etcd answers that it is unavailable (503: a member that lost
        its leader during an etcd election), for up to `read_retry` seconds: reading
        again is harmless, and a store reloading its memory must not stop half-way."""
        deadline = time.monotonic() + self.read_retry
        while True:
            try:
                return self._call(path, body)
            except EtcdError as exc:
                broken = isinstance(exc.__cause__, (OSError, http.client.HTTPException))
                if not read or not (broken or "(HTTP 503)" in str(exc)):
                    raise
                if time.monotonic() >= deadline:
                    raise
                if not broken:
                    time.sleep(0.1)

    def _call(self, path: str, body: JSONObject) -> JSONObject:
        data = json.dumps(body, separators=(",", ":")).encode()
        errors: list[str] = []
        for _ in range(len(self.endpoints)):
            endpoint = self.endpoints[self._current]
            if self._conn is None:
                self._conn = self.connect(endpoint, self.timeout)
                try:
                    self._conn.connect()
                except OSError as exc:
                    self._drop()
                    errors.append(f"{endpoint}: {exc}")
                    self._current = (self._current + 1) % len(self.endpoints)
                    continue
            try:
                self._conn.request("POST", path, data, {"Content-Type": "application/json"})
                resp = self._conn.getresponse()
                text = resp.read()
            except (OSError, http.client.HTTPException) as exc:
                # sent, perhaps applied: not retried (see the module's docstring)
                self._drop()
                self._current = (self._current + 1) % len(self.endpoints)
                raise EtcdError(f"etcd {endpoint}{path}: {exc}") from exc
            return _answer(endpoint, path, resp.status, text)
        raise EtcdError(f"etcd: no endpoint answered: {'; '.join(errors)}")

    @property
    def endpoint(self) -> str:
        """The endpoint requests go to now."""
        return self.endpoints[self._current]

    def move_on_from(self, endpoint: str) -> None:
        """`endpoint` does not answer: use the next one (unless another thread did)."""
        if self.endpoints[self._current] == endpoint:
            self._current = (self._current + 1) % len(self.endpoints)

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn = None

    def range(
        self,
        key: bytes,
        range_end: bytes | None = None,
        *,
        revision: int = 0,
        limit: int = 0,
    ) -> tuple[list[KeyValue], bool, int]:
        """The keys in [key, range_end) (one key without range_end): (kvs, more, revision)."""
        body: JSONObject = {"key": b64(key)}
        if range_end is not None:
            body["range_end"] = b64(range_end)
        if revision:
            body["revision"] = str(revision)
        if limit:
            body["limit"] = str(limit)
        got = self.call("/v3/kv/range", body, read=True)
        kvs = [KeyValue.from_json(kv) for kv in got.get("kvs", [])]
        return kvs, bool(got.get("more")), header_revision(got)

    def scan(
        self, prefix: bytes, *, revision: int = 0, page: int = 1000
    ) -> Iterator[tuple[KeyValue, int]]:
        """Every key under `prefix`, page by page, all read at one revision (`revision`, or
        the newest when 0): (kv, that revision)."""
        start, end = prefix, prefix_end(prefix)
        while True:
            kvs, more, at = self.range(start, end, revision=revision, limit=page)
            revision = revision or at
            for kv in kvs:
                yield kv, revision
            if not more or not kvs:
                return
            start = kvs[-1].key + b"\x00"

    def txn(self, compare: list[JSONObject], success: list[JSONObject]) -> tuple[bool, int]:
        """One atomic Txn: (whether the compares held and `success` was applied, revision)."""
        got = self.call("/v3/kv/txn", {"compare": compare, "success": success})
        return bool(got.get("succeeded")), header_revision(got)

    def txn_answer(
        self, compare: list[JSONObject], success: list[JSONObject], failure: list[JSONObject]
    ) -> JSONObject:
        """One Txn with operations for both outcomes: etcd's whole answer."""
        body = {"compare": compare, "success": success, "failure": failure}
        return self.call("/v3/kv/txn", body)

    # --- leases ---

    def lease_grant(self, ttl: int) -> int:
        return int(self.call("/v3/lease/grant", {"TTL": str(ttl)})["ID"])

    def lease_keepalive(self, lease: int) -> int:
        """Renew `lease`: the TTL it has again, 0 when it is gone (expired or revoked). The
        gateway answers one renewal per request and ends the stream."""
        got = self.call("/v3/lease/keepalive", {"ID": str(lease)}, read=True)
        return int(got.get("result", {}).get("TTL", 0))

    def lease_revoke(self, lease: int) -> None:
        try:
            self.call("/v3/lease/revoke", {"ID": str(lease)})
        except EtcdError as exc:
            if "lease not found" not in str(exc):
                raise

    def compact(self, revision: int) -> None:
        self.call("/v3/kv/compaction", {"revision": str(revision), "physical": True})

    def defragment(self) -> None:
        self.call("/v3/maintenance/defragment", {})

    def db_size(self) -> int:
        return int(self.call("/v3/maintenance/status", {}, read=True).get("dbSize", 0))

    def watch(self, prefix: bytes, start_revision: int) -> Watch:
        return Watch(self, prefix, start_revision)

    def close(self) -> None:
        self._drop()


class Watch:
    """One watch stream on its own connection: `events()` yields each change's
    (type, kv); `close()` (from another thread) ends it."""

    def __init__(self, client: EtcdClient, prefix: bytes, start_revision: int) -> None:
        self._client = client
        self._prefix = prefix
        self._start = start_revision
        self._conn: http.client.HTTPConnection | None = None
        self.closed = False

    def events(self) -> Iterator[tuple[str, KeyValue]]:
        for events in self.messages():
            yield from events

    def messages(self) -> Iterator[list[tuple[str, KeyValue]]]:
        """The events of each watch response together: etcd never splits one revision (one
        Txn) across responses, so a response's events are whole commits."""
        endpoint = self._client.endpoint
        request = {
            "create_request": {
                "key": b64(self._prefix),
                "range_end": b64(prefix_end(self._prefix)),
                "start_revision": str(self._start),
            }
        }
        # no timeout: a quiet prefix sends nothing for as long as it stays quiet
        self._conn = self._client.connect(endpoint, None)
        try:
            self._conn.request("POST", "/v3/watch", json.dumps(request))
            resp = self._conn.getresponse()
        except OSError:
            # a dead member: the caller's next watch goes to the next endpoint (the
            # client's requests move on by themselves, this stream does not)
            self._client.move_on_from(endpoint)
            raise
        if resp.status != 200:
            _answer(endpoint, "/v3/watch", resp.status, resp.read())
        while not self.closed:
            line = resp.readline()
            if not line:
                return
            if not line.strip():
                continue
            message = json.loads(line)
            if "error" in message:
                raise EtcdError(f"etcd watch: {message['error'].get('message', message)}")
            result = message.get("result", {})
            if result.get("canceled"):
                reason = result.get("cancel_reason") or "canceled"
                raise EtcdError(f"etcd watch canceled: {reason}")
            events = result.get("events", [])
            if events:
                yield [(e.get("type", "PUT"), KeyValue.from_json(e.get("kv", {}))) for e in events]

    def close(self) -> None:
        self.closed = True
        conn = self._conn
        if conn is not None and conn.sock is not None:
            with contextlib.suppress(OSError):  # wakes the thread blocked on the stream
                conn.sock.shutdown(socket.SHUT_RDWR)


def header_revision(message: JSONObject) -> int:
    return int(message.get("header", {}).get("revision", 0))


def _answer(endpoint: str, path: str, status: int, text: bytes) -> JSONObject:
    try:
        message = json.loads(text) if text else {}
    except ValueError:
        message = {}
    if status != 200:
        why = message.get("message") or message.get("error") or text[:200].decode(errors="replace")
        raise EtcdError(f"etcd {endpoint}{path}: {why} (HTTP {status})")
    if not isinstance(message, dict):
        raise EtcdError(f"etcd {endpoint}{path}: not a JSON object")
    return message

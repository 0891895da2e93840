"""Nomad Variables' pure rules, by tables: paths, items, lock parameters, what each write
does to the stored variable (CAS, locks through TTL and delay), pagination; the keyring's
sealing; variables in the ACL policy language and workload identities' implicit access."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from yurt.api.durations import MINUTE, SECOND
from yurt.scheduler import variables as v
from yurt.scheduler import workload_identity as wi
from yurt.scheduler.acl_policy import WorkloadClaim, compile_acl, parse_policy
from yurt.scheduler.keyring import Keyring, KeyringError, RootKey, legacy_key

Obj = dict[str, Any]

# --- paths ---------------------------------------------------------------------------------

RESERVED = (
    '"nomad" is a reserved top-level directory path, but you may write variables to '
    '"nomad/jobs", "nomad/job-templates", or below'
)
TEMPLATES_DIR = (
    '"nomad/job-templates" is a reserved directory path, but you may write variables at the '
    'level below it, for example, "nomad/job-templates/template-name"'
)
UNDER_NOMAD = (
    'only paths at "nomad/jobs" or "nomad/job-templates" and below are valid paths under the '
    'top-level "nomad" directory'
)


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("app/db", None),
        ("a-b_c~d/e", None),
        ("x" * 128, None),
        ("x" * 129, f'invalid path "{"x" * 129}"'),
        ("", "variable requires path"),
        ("has space", 'invalid path "has space"'),
        ("dot.ted", 'invalid path "dot.ted"'),
        ("at@sign", 'invalid path "at@sign"'),
        ("nomad", RESERVED),
        ("nomad/jobs", None),
        ("nomad/jobs/web/group/task", None),
        ("nomad/job-templates/tpl", None),
        ("nomad/job-templates", TEMPLATES_DIR),
        ("nomad/job-templates/a/b", TEMPLATES_DIR),
        ("nomad/other", UNDER_NOMAD),
        ("nomadic/ok", None),
    ],
)
def test_path_rules(path: str, error: str | None) -> None:
    assert v.path_error(path) == error


@pytest.mark.parametrize(
    ("namespace", "items", "lock", "error"),
    [
        ("default", {"a": "1"}, False, None),
        ("*", {"a": "1"}, False, v.WILDCARD_NAMESPACE),
        ("default", {}, False, v.EMPTY),
        ("default", {}, True, None),
        ("default", {"k": "x" * (v.MAX_SIZE - 1)}, False, None),
        ("default", {"k": "x" * v.MAX_SIZE}, False, v.TOO_LARGE),
    ],
)
def test_validate(namespace: str, items: dict[str, str], lock: bool, error: str | None) -> None:
    if error is None:
        v.validate(namespace, "p", items, lock=lock)
        return
    with pytest.raises(v.VariableError) as caught:
        v.validate(namespace, "p", items, lock=lock)
    assert caught.value.message == error and caught.value.status == 400


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"Items": {"a": 1}}, "non-string"),
        ({"Items": ["a"]}, "cannot unmarshal list"),
    ],
)
def test_items_must_be_strings(body: Obj, error: str) -> None:
    with pytest.raises(v.VariableError) as caught:
        v.items_of(body)
    assert error in caught.value.message


# --- lock parameters -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lock", "want", "error"),
    [
        (None, (v.DEFAULT_LOCK_TTL, v.DEFAULT_LOCK_DELAY), None),
        ({"TTL": "30s", "LockDelay": "1m"}, (30 * SECOND, MINUTE), None),
        ({"TTL": 20 * SECOND}, (20 * SECOND, v.DEFAULT_LOCK_DELAY), None),
        ({"TTL": "5s"}, None, v.TTL_RANGE),
        ({"TTL": "25h"}, None, v.TTL_RANGE),
        ({"TTL": "-20s"}, None, v.NOT_POSITIVE),
    ],
)
def test_lock_parameters(lock: Obj | None, want: tuple[int, int] | None, error: str | None) -> None:
    req = v.lock_request({"Lock": lock} if lock is not None else {})
    if error is not None:
        with pytest.raises(v.VariableError) as caught:
            v.checked_lock(req)
        assert caught.value.message == error
        return
    got = v.checked_lock(req)
    assert (got.ttl, got.delay) == want


@pytest.mark.parametrize(
    ("query", "want"),
    [
        ({}, ""),
        ({"lock-acquire": ""}, v.LOCK_ACQUIRE),
        ({"lock-renew": ""}, v.LOCK_RENEW),
        ({"lock-release": "", "namespace": "x"}, v.LOCK_RELEASE),
        ({"lock-acquire": "", "lock-release": ""}, v.MULTIPLE_LOCK_OPS),
        ({"lock-acquire": "", "cas": "3"}, v.CAS_WITH_LOCK),
    ],
)
def test_lock_operation_of_query(query: dict[str, str], want: str) -> None:
    if want in v.LOCK_OPERATIONS or want == "":
        assert v.lock_operation(query) == want
        return
    with pytest.raises(v.VariableError) as caught:
        v.lock_operation(query)
    assert caught.value.message == want


@pytest.mark.parametrize(("raw", "want"), [(None, None), ("", None), ("0", 0), ("17", 17)])
def test_cas_parameter(raw: str | None, want: int | None) -> None:
    assert v.parse_cas(raw) == want


def test_a_cas_that_is_no_number_is_refused_as_nomad_does() -> None:
    with pytest.raises(v.VariableError) as caught:
        v.parse_cas("x")
    assert caught.value.message.startswith("can not parse cas: ")


# --- decisions -----------------------------------------------------------------------------

T0 = 1_000 * SECOND
TTL = 15 * SECOND
DELAY = 10 * SECOND


def stored(modify: int = 5, lock_id: str = "", expires: int = T0 + TTL) -> Obj:
    lock = {"ID": lock_id, "TTL": TTL, "LockDelay": DELAY, "Expires": expires}
    return {
        "Namespace": "default",
        "Path": "p",
        "CreateIndex": 3,
        "ModifyIndex": modify,
        "Lock": lock if lock_id else None,
    }


@pytest.mark.parametrize(
    ("var", "now", "want"),
    [
        (stored(), T0, v.FREE),
        (stored(lock_id="L"), T0, v.HELD),
        (stored(lock_id="L"), T0 + TTL - 1, v.HELD),
        (stored(lock_id="L"), T0 + TTL, v.DELAYED),
        (stored(lock_id="L"), T0 + TTL + DELAY - 1, v.DELAYED),
        (stored(lock_id="L"), T0 + TTL + DELAY, v.FREE),
    ],
)
def test_lock_state_through_ttl_and_delay(var: Obj, now: int, want: str) -> None:
    assert v.lock_state(var, now) == want


@pytest.mark.parametrize(
    ("var", "cas", "lock_id", "now", "want"),
    [
        (None, None, "", T0, v.OK),
        (stored(), None, "", T0, v.OK),
        (None, 0, "", T0, v.OK),
        (stored(), 0, "", T0, v.CONFLICT),
        (stored(modify=5), 5, "", T0, v.OK),
        (stored(modify=5), 4, "", T0, v.CONFLICT),
        (None, 4, "", T0, v.CONFLICT),
        # locked: only the holder writes, even in the delay after its TTL
        (stored(lock_id="L"), None, "", T0, v.CONFLICT),
        (stored(lock_id="L"), None, "other", T0, v.CONFLICT),
        (stored(lock_id="L"), None, "L", T0, v.OK),
        (stored(lock_id="L"), None, "", T0 + TTL + 1, v.CONFLICT),
        (stored(lock_id="L"), None, "", T0 + TTL + DELAY, v.OK),
    ],
)
def test_set(var: Obj | None, cas: int | None, lock_id: str, now: int, want: str) -> None:
    assert v.decide_set(var, cas, lock_id, now).outcome == want


def test_the_holders_write_keeps_the_lock() -> None:
    decision = v.decide_set(stored(lock_id="L"), None, "L", T0)
    assert decision.lock is not None and decision.lock["ID"] == "L"


@pytest.mark.parametrize(
    ("var", "cas", "now", "want"),
    [
        (None, None, T0, v.OK),
        (stored(), None, T0, v.OK),
        (stored(modify=5), 5, T0, v.OK),
        (stored(modify=5), 6, T0, v.CONFLICT),
        (None, 6, T0, v.CONFLICT),
        (stored(lock_id="L"), None, T0, v.CONFLICT),
        (stored(lock_id="L"), None, T0 + TTL + DELAY, v.OK),
    ],
)
def test_delete(var: Obj | None, cas: int | None, now: int, want: str) -> None:
    assert v.decide_delete(var, cas, now).outcome == want


LOCK = v.LockRequest("", TTL, DELAY)


@pytest.mark.parametrize(
    ("var", "now", "has_items", "want", "keep"),
    [
        (None, T0, False, v.OK, False),
        (stored(), T0, False, v.OK, True),
        (stored(), T0, True, v.OK, False),
        (stored(lock_id="L"), T0, False, v.CONFLICT, False),
        (stored(lock_id="L"), T0 + TTL + 1, False, v.CONFLICT, False),
        (stored(lock_id="L"), T0 + TTL + DELAY, False, v.OK, True),
    ],
)
def test_acquire(var: Obj | None, now: int, has_items: bool, want: str, keep: bool) -> None:
    decision = v.decide_acquire(var, LOCK, "new", now, has_items)
    assert decision.outcome == want
    if want == v.OK:
        assert decision.keep_items is keep
        assert decision.lock == {"ID": "new", "TTL": TTL, "LockDelay": DELAY, "Expires": now + TTL}


@pytest.mark.parametrize(
    ("var", "lock_id", "now", "want"),
    [
        (stored(lock_id="L"), "L", T0 + TTL - 1, v.OK),
        (stored(lock_id="L"), "M", T0, v.CONFLICT),
        (None, "L", T0, (404, v.VAR_DOES_NOT_EXIST)),
        (stored(lock_id="L"), "", T0, (400, v.MISSING_LOCK_INFO)),
        (stored(), "L", T0, (409, v.NO_LOCK)),
        # a lost lock cannot be renewed
        (stored(lock_id="L"), "L", T0 + TTL, (409, v.NO_LOCK)),
    ],
)
def test_renew(var: Obj | None, lock_id: str, now: int, want: str | tuple[int, str]) -> None:
    if isinstance(want, tuple):
        with pytest.raises(v.VariableError) as caught:
            v.decide_renew(var, lock_id, now)
        assert (caught.value.status, caught.value.message) == want
        return
    decision = v.decide_renew(var, lock_id, now)
    assert decision.outcome == want
    if want == v.OK:
        assert decision.lock is not None and decision.lock["Expires"] == now + TTL


@pytest.mark.parametrize(
    ("var", "lock_id", "has_items", "now", "want"),
    [
        (stored(lock_id="L"), "L", False, T0, v.OK),
        (stored(lock_id="L"), "L", False, T0 + TTL + 1, v.OK),
        (stored(lock_id="L"), "M", False, T0, v.CONFLICT),
        (stored(lock_id="L"), "L", True, T0, (400, v.ITEMS_ON_RELEASE)),
        (stored(lock_id="L"), "", False, T0, (400, v.RELEASE_NEEDS_LOCK)),
        (None, "L", False, T0, (404, v.VAR_DOES_NOT_EXIST)),
        (stored(), "L", False, T0, (409, v.NO_LOCK)),
    ],
)
def test_release(
    var: Obj | None, lock_id: str, has_items: bool, now: int, want: str | tuple[int, str]
) -> None:
    if isinstance(want, tuple):
        with pytest.raises(v.VariableError) as caught:
            v.decide_release(var, lock_id, now, has_items)
        assert (caught.value.status, caught.value.message) == want
        return
    decision = v.decide_release(var, lock_id, now, has_items)
    assert decision.outcome == want
    if want == v.OK:
        assert decision.lock is None and decision.keep_items


def test_metadata_shows_a_binding_lock_as_nomad_prints_it() -> None:
    var = stored(lock_id="L")
    shown = v.metadata(var, with_lock=True, now_ns=T0)
    assert shown["Lock"] == {"TTL": "15s", "LockDelay": "10s", "ID": "L"}
    assert "Lock" not in v.metadata(var, with_lock=False, now_ns=T0)
    assert "Lock" not in v.metadata(var, with_lock=True, now_ns=T0 + TTL + DELAY)


@pytest.mark.parametrize(
    ("per_page", "token", "want_paths", "want_token"),
    [
        (0, "", ["a", "b", "c", "d"], ""),
        (2, "", ["a", "b"], "default.c"),
        (2, "default.c", ["c", "d"], ""),
        (3, "default.b", ["b", "c", "d"], ""),
        (4, "", ["a", "b", "c", "d"], ""),
    ],
)
def test_pagination(per_page: int, token: str, want_paths: list[str], want_token: str) -> None:
    vars_ = [{"Namespace": "default", "Path": p} for p in ("c", "a", "d", "b")]
    got, nxt = v.page(vars_, per_page, token)
    assert [x["Path"] for x in got] == want_paths and nxt == want_token


# --- keyring -------------------------------------------------------------------------------


def test_the_keyring_seals_and_opens() -> None:
    ring = Keyring([RootKey.generated()])
    blob, key_id = ring.seal(b'{"password":"hunter2"}')
    assert b"hunter2" not in blob.encode() and key_id == ring.key_id
    assert ring.open(blob, key_id) == b'{"password":"hunter2"}'


def test_the_keyring_seals_with_aes_256_gcm() -> None:
    key = RootKey.generated()
    ring = Keyring([key])
    blob, _ = ring.seal(b"secret", b"default\x00app/db")
    raw = base64.b64decode(blob)
    doc = key.row("active", 1, 0)
    root = base64.b64decode(doc["Key"])
    assert doc["Algorithm"] == "aes256-gcm" and len(root) == 32
    # the blob is nonce(12) | AES-256-GCM output, which a standard implementation opens
    assert AESGCM(root).decrypt(raw[:12], raw[12:], b"default\x00app/db") == b"secret"
    assert len(raw) == 12 + len(b"secret") + 16
    # two seals of the same text differ (a fresh nonce each time)
    assert ring.seal(b"secret")[0] != ring.seal(b"secret")[0]


@pytest.mark.parametrize("where", [0, 5, 12, 13, -1, -16])
def test_a_flipped_bit_anywhere_does_not_open(where: int) -> None:
    ring = Keyring([RootKey.generated()])
    blob, key_id = ring.seal(b"secret value")
    raw = bytearray(base64.b64decode(blob))
    raw[where] ^= 1
    with pytest.raises(KeyringError, match="failed authentication"):
        ring.open(base64.b64encode(bytes(raw)).decode(), key_id)


def test_a_blob_opens_only_where_it_was_bound_and_with_its_key() -> None:
    ring = Keyring([RootKey.generated()])
    blob, key_id = ring.seal(b"secret", b"default\x00app/db")
    assert ring.open(blob, key_id, b"default\x00app/db") == b"secret"
    with pytest.raises(KeyringError, match="failed authentication"):
        ring.open(blob, key_id, b"default\x00app/other")
    with pytest.raises(KeyringError, match="no such key"):
        ring.open(blob, "other-key", b"default\x00app/db")
    with pytest.raises(KeyringError, match="no such key"):
        Keyring([RootKey.generated()]).open(blob, key_id, b"default\x00app/db")
    with pytest.raises(KeyringError, match="truncated"):
        ring.open("AAAA", key_id)
    with pytest.raises(KeyringError, match="not base64"):
        ring.open("not base64!", key_id)


def test_a_key_file_of_another_algorithm_is_refused(tmp_path: Path) -> None:
    (tmp_path / "k.json").write_text('{"KeyID": "k", "Algorithm": "rot13", "Key": ""}')
    with pytest.raises(KeyringError, match="'rot13' is not 'aes256-gcm'"):
        legacy_key(tmp_path)


# --- ACL -----------------------------------------------------------------------------------

POLICY = """
namespace "default" {
  variables {
    path "app/*" { capabilities = ["read"] }
    path "app/secret" { capabilities = ["deny"] }
    path "ops/*" { capabilities = ["write", "destroy"] }
  }
}
namespace "prod" { policy = "read" }
namespace "dev" { policy = "write" }
"""


@pytest.mark.parametrize(
    ("ns", "path", "cap", "want"),
    [
        ("default", "app/db", "read", True),
        ("default", "app/db", "list", True),  # read implies list
        ("default", "app/db", "write", False),
        ("default", "app/secret", "read", False),  # deny wins
        ("default", "ops/x", "write", True),
        ("default", "ops/x", "destroy", True),
        ("default", "ops/x", "read", False),
        ("default", "other", "read", False),
        ("prod", "any/path", "read", True),
        ("prod", "any/path", "write", False),
        ("dev", "any/path", "destroy", True),
        ("nowhere", "app/db", "read", False),
    ],
)
def test_variables_in_the_policy_language(ns: str, path: str, cap: str, want: bool) -> None:
    acl = compile_acl([parse_policy(POLICY)])
    assert acl.allow_variable_op(ns, path, cap) is want


CLAIM = WorkloadClaim("default", "web", "frontend", "nginx")


@pytest.mark.parametrize(
    ("ns", "path", "cap", "want"),
    [
        ("default", "nomad/jobs", "list", True),
        ("default", "nomad/jobs/web", "read", True),
        ("default", "nomad/jobs/web/frontend", "read", True),
        ("default", "nomad/jobs/web/frontend/nginx", "read", True),
        ("default", "nomad/jobs/web/frontend/nginx", "write", False),
        ("default", "nomad/jobs/web/frontend/other", "read", False),
        ("default", "nomad/jobs/api", "read", False),
        ("prod", "nomad/jobs/web", "read", False),
        ("default", "app/db", "read", False),
    ],
)
def test_a_tasks_implicit_access(ns: str, path: str, cap: str, want: bool) -> None:
    acl = compile_acl([])
    assert acl.allow_variable_op(ns, path, cap, CLAIM) is want


def test_workload_identities_are_signed_and_die_with_their_allocation() -> None:
    ring = Keyring([RootKey.generated()])
    alloc = {
        "ID": "a1",
        "Namespace": "default",
        "JobID": "web",
        "TaskGroup": "frontend",
        "DesiredStatus": "run",
        "ClientStatus": "running",
    }
    token = wi.issue(ring, "a1", "nginx")
    assert wi.claim_of(ring, token, {"a1": alloc}) == CLAIM
    assert wi.claim_of(ring, token[:-1] + ("0" if token[-1] != "0" else "1"), {"a1": alloc}) is None
    assert wi.claim_of(ring, token, {}) is None
    assert wi.claim_of(ring, token, {"a1": {**alloc, "ClientStatus": "complete"}}) is None
    assert wi.claim_of(Keyring([RootKey.generated()]), token, {"a1": alloc}) is None

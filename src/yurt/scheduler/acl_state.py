"""Nomad's ACL state on the scheduler: policies, tokens, bootstrap and one-time tokens, kept
in the scheduler's store, and the resolution of a request's secret into an `ACL`.

Only a hash of each token's secret is stored, and tokens are looked up by it: the secret is
shown once, in the answer that creates it (Nomad shows it on every read to a management
token; a stolen database file here gives no usable token).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from yurt.api.durations import MINUTE, SECOND, duration_from_json, format_go_duration
from yurt.api.errors import APIError
from yurt.scheduler import store as s
from yurt.scheduler.acl_policy import (
    ACL,
    MANAGEMENT,
    Policy,
    PolicyError,
    compile_acl,
    parse_policy,
)
from yurt.scheduler.structs import ACLOneTimeToken, ACLPolicy, ACLToken

# A request body before it is checked, and the views the API answers with (free-form).
Obj = dict[str, Any]

MANAGEMENT_TYPE = "management"
CLIENT_TYPE = "client"
ANONYMOUS_POLICY = "anonymous"
BOOTSTRAP_RESET_FILE = "acl-bootstrap-reset"
_BOOTSTRAP_KEY = "acl-bootstrap"
# Nomad's defaults for `acl { token_min_expiration_ttl, token_max_expiration_ttl }`.
MIN_TTL = MINUTE
MAX_TTL = 24 * 60 * MINUTE
ONE_TIME_TTL = 10 * MINUTE
_VALID_POLICY_NAME = re.compile(r"^[a-zA-Z0-9-]{1,128}$")

PERMISSION_DENIED = "Permission denied"
TOKEN_NOT_FOUND = "ACL token not found"
TOKEN_EXPIRED = "ACL token expired"
ACL_DISABLED = "ACL support disabled"


def denied() -> APIError:
    return APIError(403, PERMISSION_DENIED)


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


def go_time(when: datetime) -> str:
    """RFC 3339 with up to nanoseconds, trailing zeros trimmed, as Go marshals a time.Time."""
    frac = f"{when.microsecond:06d}".rstrip("0")
    return when.strftime("%Y-%m-%dT%H:%M:%S") + (f".{frac}" if frac else "") + "Z"


def parse_go_time(text: str) -> datetime:
    head, _, frac = text.rstrip("Z").partition(".")
    base = datetime.strptime(head, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    return base + timedelta(microseconds=int((frac + "000000")[:6]) if frac else 0)


def _keystream(one_secret: str, size: int) -> bytes:
    return hashlib.shake_256(b"yurt-acl-onetime\0" + one_secret.encode()).digest(size)


def _seal(secret: str, one_secret: str) -> str:
    """`secret` XORed with a keystream drawn from the (random, used once) one-time secret."""
    data = secret.encode()
    pad = _keystream(one_secret, len(data))
    return base64.b64encode(bytes(a ^ b for a, b in zip(data, pad, strict=True))).decode()


def _unseal(sealed: str, one_secret: str) -> str:
    data = base64.b64decode(sealed)
    pad = _keystream(one_secret, len(data))
    return bytes(a ^ b for a, b in zip(data, pad, strict=True)).decode()


def _content_hash(obj: Mapping[str, Any], fields: Iterable[str]) -> str:
    text = json.dumps({f: obj.get(f) for f in fields}, sort_keys=True)
    return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def _multi(prefix: str, errors: list[str]) -> APIError:
    """Nomad's go-multierror text: 'token 0 invalid: 1 error occurred:\\n\\t* ...\\n\\n'."""
    n = len(errors)
    head = f"{prefix}: {n} error{'s' if n != 1 else ''} occurred:\n"
    return APIError.bad_request(head + "".join(f"\t* {e}\n" for e in errors) + "\n")


@dataclass(frozen=True)
class Resolved:
    """Who a request is: the token (None for anonymous) and what it may do."""

    acl: ACL
    token: ACLToken | None
    secret: str = ""


class ACLState:
    def __init__(self, store: s.Store, data_dir: Path | str) -> None:
        self.store = store
        self.data_dir = Path(data_dir)
        self._by_hash: dict[str, str] = {}
        self._by_hash_index = -1
        self._parsed: dict[str, tuple[int, Policy]] = {}
        self._compiled: dict[tuple[tuple[str, ...], int], ACL] = {}

    # --- lookups ----------------------------------------------------------------------

    @property
    def policies(self) -> dict[str, ACLPolicy]:
        return cast(dict[str, ACLPolicy], self.store.tables[s.ACL_POLICY])

    @property
    def tokens(self) -> dict[str, ACLToken]:
        return cast(dict[str, ACLToken], self.store.tables[s.ACL_TOKEN])

    @property
    def one_time_tokens(self) -> dict[str, ACLOneTimeToken]:
        return cast(dict[str, ACLOneTimeToken], self.store.tables[s.ACL_ONETIME])

    def token_by_secret(self, secret: str) -> ACLToken | None:
        index = self.store.table_index[s.ACL_TOKEN]
        if index != self._by_hash_index:
            self._by_hash = {t["SecretHash"]: a for a, t in self.tokens.items()}
            self._by_hash_index = index
        accessor = self._by_hash.get(secret_hash(secret))
        return self.tokens.get(accessor) if accessor else None

    def policy(self, name: str) -> Policy | None:
        obj = self.policies.get(name)
        if obj is None:
            return None
        cached = self._parsed.get(name)
        if cached is not None and cached[0] == obj["ModifyIndex"]:
            return cached[1]
        try:
            parsed = parse_policy(obj.get("Rules") or "")
        except PolicyError:
            parsed = Policy()
        self._parsed[name] = (obj["ModifyIndex"], parsed)
        return parsed

    def acl_for(self, policy_names: Iterable[str]) -> ACL:
        # Compiled once per set of policies until any policy changes.
        key = (tuple(sorted(policy_names)), self.store.table_index[s.ACL_POLICY])
        cached = self._compiled.get(key)
        if cached is None:
            if len(self._compiled) > 256:
                self._compiled.clear()
            found = [p for p in (self.policy(n) for n in key[0]) if p is not None]
            cached = self._compiled[key] = compile_acl(found)
        return cached

    def resolve(self, secret: str) -> Resolved:
        """A request's secret -> its ACL; 403 'ACL token not found' or 'ACL token expired'."""
        if not secret:
            return Resolved(self.acl_for([ANONYMOUS_POLICY]), None)
        token = self.token_by_secret(secret)
        if token is None:
            raise APIError(403, TOKEN_NOT_FOUND)
        if self.expired(token):
            raise APIError(403, TOKEN_EXPIRED)
        if token["Type"] == MANAGEMENT_TYPE:
            return Resolved(MANAGEMENT, token, secret)
        return Resolved(self.acl_for(token.get("Policies") or []), token, secret)

    @staticmethod
    def expired(token: ACLToken) -> bool:
        when = token.get("ExpirationTime")
        return bool(when) and parse_go_time(str(when)) <= _now()

    # --- views ------------------------------------------------------------------------

    @staticmethod
    def token_view(token: ACLToken, secret: str = "") -> Obj:
        out = {k: v for k, v in token.items() if k != "SecretHash"}
        out["SecretID"] = secret
        return out

    @staticmethod
    def token_stub(token: ACLToken) -> Obj:
        return {k: v for k, v in token.items() if k != "SecretHash"}

    def policy_view(self, obj: ACLPolicy) -> Obj:
        parsed = self.policy(obj["Name"]) or Policy()
        return {**obj, "RulesJSON": parsed.rules_json()}

    @staticmethod
    def policy_stub(obj: ACLPolicy) -> Obj:
        return {
            k: obj.get(k) for k in ("Name", "Description", "Hash", "CreateIndex", "ModifyIndex")
        }

    # --- bootstrap --------------------------------------------------------------------

    def bootstrap(self, bootstrap_secret: str = "") -> Obj:
        done = self.store.tables[s.CONFIG].get(_BOOTSTRAP_KEY)
        if done is not None:
            reset_index = int(done["ModifyIndex"])
            wanted = self._reset_file_index()
            if wanted == 0:
                raise APIError.bad_request(
                    f"ACL bootstrap already done (reset index: {reset_index})"
                )
            if wanted != reset_index:
                raise APIError.bad_request(
                    f"Invalid bootstrap reset index (specified {wanted}, "
                    f"reset index: {reset_index})"
                )
        if bootstrap_secret:
            try:
                uuid.UUID(bootstrap_secret)
            except ValueError:
                raise APIError.bad_request("invalid acl token") from None
        secret = bootstrap_secret or str(uuid.uuid4())
        with self.store.write() as txn:
            token = self._new_token(
                {"Name": "Bootstrap Token", "Type": MANAGEMENT_TYPE, "Global": True},
                secret,
                txn.index,
            )
            txn.put(s.ACL_TOKEN, token["AccessorID"], token)
            txn.put(s.CONFIG, _BOOTSTRAP_KEY, {"ModifyIndex": txn.index})
        return self.token_view(token, secret)

    def _reset_file_index(self) -> int:
        path = self.data_dir / BOOTSTRAP_RESET_FILE
        try:
            text = path.read_text().strip()
        except OSError:
            return 0
        try:
            return int(text)
        except ValueError:
            return 0

    # --- policies ---------------------------------------------------------------------

    def upsert_policy(self, body: Obj) -> int:
        name = body.get("Name")
        errors: list[str] = []
        if not isinstance(name, str) or not _VALID_POLICY_NAME.match(name):
            errors.append(f"invalid name '{name if name is not None else ''}'")
        description = body.get("Description") or ""
        if not isinstance(description, str) or len(description) > 256:
            errors.append("description longer than 256")
        rules = body.get("Rules") or ""
        if not isinstance(rules, str):
            errors.append("failed to parse rules: Rules must be a string")
            rules = ""
        else:
            try:
                parse_policy(rules)
            except PolicyError as exc:
                errors.append(f"failed to parse rules: {exc}")
        if errors:
            raise _multi("policy 0 invalid", errors)
        assert isinstance(name, str)
        old = self.policies.get(name)
        with self.store.write() as txn:
            obj: ACLPolicy = {
                "Name": name,
                "Description": description,
                "Rules": rules,
                "CreateIndex": old["CreateIndex"] if old else txn.index,
                "ModifyIndex": txn.index,
            }
            obj["Hash"] = _content_hash(obj, ("Name", "Description", "Rules"))
            txn.put(s.ACL_POLICY, name, obj)
        return txn.index

    def delete_policy(self, name: str) -> int:
        with self.store.write() as txn:
            if name in self.policies:
                txn.delete(s.ACL_POLICY, name)
        return txn.index

    # --- tokens -----------------------------------------------------------------------

    def _validate_token(self, body: Obj, existing: ACLToken | None) -> list[str]:
        errors: list[str] = []
        kind = body.get("Type")
        policies = body.get("Policies") or []
        if kind not in (CLIENT_TYPE, MANAGEMENT_TYPE):
            errors.append("token type must be client or management")
        elif kind == CLIENT_TYPE and not policies and not body.get("Roles"):
            errors.append("client token missing policies")
        elif kind == MANAGEMENT_TYPE and policies:
            errors.append("management token cannot be associated with policies")
        if not isinstance(policies, list) or not all(isinstance(p, str) for p in policies):
            errors.append("Policies must be a list of policy names")
        name = body.get("Name") or ""
        if not isinstance(name, str) or len(name) > 256:
            errors.append("token name too long")
        return errors

    def _new_token(self, body: Obj, secret: str, index: int, ttl: int = 0) -> ACLToken:
        now = _now()
        token: ACLToken = {
            "AccessorID": str(uuid.uuid4()),
            "SecretHash": secret_hash(secret),
            "Name": body.get("Name") or "",
            "Type": str(body.get("Type")),  # checked: client or management
            "Policies": list(body.get("Policies") or []) or None,
            "Roles": None,
            "Global": bool(body.get("Global")),
            "CreateTime": go_time(now),
            "CreateIndex": index,
            "ModifyIndex": index,
        }
        if ttl:
            token["ExpirationTTL"] = ttl
            token["ExpirationTime"] = go_time(now + timedelta(microseconds=ttl // 1000))
        token["Hash"] = _content_hash(token, ("Name", "Type", "Policies", "Global"))
        return token

    def _ttl(self, body: Obj) -> int:
        raw = body.get("ExpirationTTL")
        if raw in (None, 0, ""):
            when = body.get("ExpirationTime")
            if not when:
                return 0
            try:
                delta = parse_go_time(str(when)) - _now()
            except ValueError:
                raise _multi("token 0 invalid", [f"invalid ExpirationTime {when!r}"]) from None
            raw = int(delta.total_seconds() * SECOND)
        try:
            ttl = duration_from_json(raw, "ExpirationTTL")
        except ValueError as exc:
            raise _multi("token 0 invalid", [str(exc)]) from None
        if ttl < MIN_TTL:
            raise _multi(
                "token 0 invalid",
                [
                    f"expiration time cannot be less than {format_go_duration(MIN_TTL)} in the "
                    f"future (was {format_go_duration(ttl)})"
                ],
            )
        if ttl > MAX_TTL:
            raise _multi(
                "token 0 invalid",
                [
                    f"expiration time cannot be more than {format_go_duration(MAX_TTL)} in the "
                    f"future (was {format_go_duration(ttl)})"
                ],
            )
        return ttl

    def create_token(self, body: Obj) -> Obj:
        if body.get("AccessorID"):
            raise _multi("token 0 invalid", ["AccessorID must be empty when creating a token"])
        errors = self._validate_token(body, None)
        if errors:
            raise _multi("token 0 invalid", errors)
        ttl = self._ttl(body)
        secret = str(uuid.uuid4())
        with self.store.write() as txn:
            token = self._new_token(body, secret, txn.index, ttl)
            txn.put(s.ACL_TOKEN, token["AccessorID"], token)
        return self.token_view(token, secret)

    def update_token(self, accessor: str, body: Obj) -> Obj:
        existing = self.tokens.get(accessor)
        if existing is None:
            raise APIError.bad_request(f"Cannot find token {accessor}")
        given = body.get("AccessorID")
        if given and given != accessor:
            raise APIError.bad_request("Token accessor ID does not match request path")
        errors = self._validate_token(body, existing)
        if errors:
            raise _multi("token 0 invalid", errors)
        if bool(body.get("Global")) != bool(existing.get("Global")):
            raise _multi("token 0 invalid", ["cannot toggle global mode"])
        with self.store.write() as txn:
            token: ACLToken = {
                **existing,
                "Name": body.get("Name") or "",
                "Type": str(body.get("Type")),  # checked: client or management
                "Policies": list(body.get("Policies") or []) or None,
                "ModifyIndex": txn.index,
            }
            token["Hash"] = _content_hash(token, ("Name", "Type", "Policies", "Global"))
            txn.put(s.ACL_TOKEN, accessor, token)
        return self.token_view(token)

    def delete_token(self, accessor: str) -> int:
        if accessor not in self.tokens:
            raise APIError.bad_request(f"Cannot delete nonexistent tokens: {accessor}")
        with self.store.write() as txn:
            txn.delete(s.ACL_TOKEN, accessor)
            for key, one in list(self.one_time_tokens.items()):
                if one["AccessorID"] == accessor:
                    txn.delete(s.ACL_ONETIME, key)
        return txn.index

    # --- one-time tokens --------------------------------------------------------------

    def create_one_time(self, resolved: Resolved) -> Obj:
        """A one-time secret that exchanges once, within ten minutes, for the caller's token.

        Only a hash of the token's own secret is stored, so the caller's secret is kept with
        the one-time record, sealed with the one-time secret (which is stored as a hash too):
        the database alone gives neither."""
        token = resolved.token
        if token is None:
            raise denied()
        one_secret = str(uuid.uuid4())
        expires = _now() + timedelta(microseconds=ONE_TIME_TTL // 1000)
        self._purge_one_time()
        with self.store.write() as txn:
            record: ACLOneTimeToken = {
                "AccessorID": token["AccessorID"],
                "SealedSecret": _seal(resolved.secret, one_secret),
                "ExpiresAt": go_time(expires),
                "CreateIndex": txn.index,
                "ModifyIndex": txn.index,
            }
            txn.put(s.ACL_ONETIME, secret_hash(one_secret), record)
        view = {k: v for k, v in record.items() if k != "SealedSecret"}
        return {"OneTimeToken": {**view, "OneTimeSecretID": one_secret}, "Index": txn.index}

    def exchange_one_time(self, one_secret: str) -> Obj:
        key = secret_hash(one_secret)
        record = self.one_time_tokens.get(key)
        if record is None or parse_go_time(record["ExpiresAt"]) <= _now():
            raise denied()
        token = self.tokens.get(record["AccessorID"])
        with self.store.write() as txn:
            txn.delete(s.ACL_ONETIME, key)
        if token is None or self.expired(token):
            raise denied()
        secret = _unseal(record["SealedSecret"], one_secret)
        return {"Token": self.token_view(token, secret), "Index": txn.index}

    def _purge_one_time(self) -> None:
        now = _now()
        stale = [k for k, r in self.one_time_tokens.items() if parse_go_time(r["ExpiresAt"]) <= now]
        if stale:
            with self.store.write() as txn:
                for key in stale:
                    txn.delete(s.ACL_ONETIME, key)

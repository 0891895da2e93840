"""Nomad Variables, the pure part: path rules, item limits, lock parameters, and what a
write does to the variable it names (check-and-set, locks and their TTL and lock delay).

No I/O and no clock: callers pass the stored variable and the time. The rules and texts
are Nomad's (`nomad/structs/variables.go`, `nomad/variables_endpoint.go`,
`command/agent/variable_endpoint.go`); a stored variable is Nomad's `VariableMetadata`
(Namespace, Path, Create/Modify Index and Time, Lock) plus yurt's sealed items.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from yurt.api.durations import HOUR, SECOND, duration_from_json, format_go_duration
from yurt.scheduler.structs import Variable, VariableLock, VariableLockView, VariableView

MAX_SIZE = 65536
MIN_LOCK_TTL = 10 * SECOND
MAX_LOCK_TTL = 24 * HOUR
DEFAULT_LOCK_TTL = 15 * SECOND
DEFAULT_LOCK_DELAY = 15 * SECOND

_VALID_PATH = re.compile(r"^[a-zA-Z0-9\-_~/]{1,128}$")

# Nomad's texts.
MISSING_PATH = "missing variable path"
MISSING_ITEMS = "variable missing required Items object"
NOT_FOUND = "variable not found"
VAR_DOES_NOT_EXIST = "variable doesn't exist"
NO_LOCK = "variable doesn't hold a lock"
IS_LOCKED = "attempting to modify locked variable"
ITEMS_ON_RELEASE = "lock release operation doesn't take variable items"
RELEASE_NEEDS_LOCK = "release requires all lock information"
MISSING_LOCK_INFO = "missing lock information"
WILDCARD_NAMESPACE = 'can not target wildcard ("*")namespace'
TOO_LARGE = "variables are limited to 64KiB in total size"
EMPTY = "empty variables are invalid"
TTL_RANGE = "TTL must be between 10 seconds and 24 hours"
NOT_POSITIVE = "Lock delay and TTL must be positive"
MULTIPLE_LOCK_OPS = "multiple lock operations"
CAS_WITH_LOCK = "CAS can't be used with lock operations"

LOCK_ACQUIRE = "lock-acquire"
LOCK_RENEW = "lock-renew"
LOCK_RELEASE = "lock-release"
LOCK_OPERATIONS = (LOCK_ACQUIRE, LOCK_RENEW, LOCK_RELEASE)


class VariableError(ValueError):
    """A request Nomad refuses; `status` is the HTTP code it answers with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def path_error(path: str) -> str | None:
    """Nomad's `validatePath`: URL-safe characters, at most 128 bytes, and under the
    reserved top-level `nomad` only `nomad/jobs...` and `nomad/job-templates/<name>`."""
    if not path:
        return "variable requires path"
    if not _VALID_PATH.match(path):
        return f'invalid path "{path}"'
    parts = path.split("/")
    if parts[0] != "nomad":
        return None
    if len(parts) == 1:
        return (
            '"nomad" is a reserved top-level directory path, but you may write variables '
            'to "nomad/jobs", "nomad/job-templates", or below'
        )
    if parts[1] == "jobs":
        return None
    if parts[1] == "job-templates":
        if len(parts) == 3:
            return None
        return (
            '"nomad/job-templates" is a reserved directory path, but you may write variables '
            'at the level below it, for example, "nomad/job-templates/template-name"'
        )
    return (
        'only paths at "nomad/jobs" or "nomad/job-templates" and below are valid paths '
        'under the top-level "nomad" directory'
    )


def items_of(body: Mapping[str, Any]) -> dict[str, str]:
    """The request's `Items` (string values only, as Go decodes `map[string]string`)."""
    raw = body.get("Items")
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise VariableError(
            f"json: cannot unmarshal {type(raw).__name__} into Go struct field "
            "VariableDecrypted.Items of type structs.VariableItems"
        )
    out: dict[str, str] = {}
    for key, value in raw.items():
        if not isinstance(value, str):
            raise VariableError(
                "json: cannot unmarshal non-string into Go struct field "
                "VariableDecrypted.Items of type string"
            )
        out[str(key)] = value
    return out


def items_size(items: Mapping[str, str]) -> int:
    return sum(len(k.encode()) + len(v.encode()) for k, v in items.items())


def validate(namespace: str, path: str, items: Mapping[str, str], *, lock: bool = False) -> None:
    """Nomad's `VariableDecrypted.Validate` (and `ValidateForLock`: a lock may be empty)."""
    if namespace == "*":
        raise VariableError(WILDCARD_NAMESPACE)
    if not items and not lock:
        raise VariableError(EMPTY)
    if items_size(items) > MAX_SIZE:
        raise VariableError(TOO_LARGE)
    error = path_error(path)
    if error:
        raise VariableError(error)


# --- locks ----------------------------------------------------------------------------


@dataclass(frozen=True)
class LockRequest:
    """The `Lock` of a request body: an ID (renew, release, writes by the holder) and, for
    an acquire, its TTL and delay in nanoseconds (0: Nomad's default)."""

    id: str = ""
    ttl: int = 0
    delay: int = 0


def lock_request(body: Mapping[str, Any]) -> LockRequest | None:
    raw = body.get("Lock")
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise VariableError("Lock: expected an object")
    try:
        ttl = duration_from_json(raw.get("TTL") or 0, "TTL")
        delay = duration_from_json(raw.get("LockDelay") or 0, "LockDelay")
    except ValueError as exc:
        raise VariableError(str(exc)) from None
    return LockRequest(str(raw.get("ID") or ""), ttl, delay)


def checked_lock(req: LockRequest | None) -> LockRequest:
    """An acquire's lock parameters with Nomad's defaults, validated as Nomad does."""
    req = req or LockRequest()
    ttl = req.ttl or DEFAULT_LOCK_TTL
    delay = req.delay or DEFAULT_LOCK_DELAY
    if ttl < 0 or delay < 0:
        raise VariableError(NOT_POSITIVE)
    if not MIN_LOCK_TTL <= ttl <= MAX_LOCK_TTL:
        raise VariableError(TTL_RANGE)
    return LockRequest(req.id, ttl, delay)


HELD = "held"  # within its TTL: renewable
DELAYED = "delayed"  # TTL passed without renewal: nobody may take it until the delay ends
FREE = "free"


def lock_state(var: Variable | None, now_ns: int) -> str:
    """Where a stored variable's lock is at `now_ns` (wall clock, Unix nanoseconds).

    The lock's `Expires` is when its TTL runs out; after that the lock is lost but, as in
    Nomad, stays in place for its lock delay before anyone can acquire it again."""
    lock = var.get("Lock") if var else None
    if not lock:
        return FREE
    expires = int(lock.get("Expires") or 0)
    if now_ns < expires:
        return HELD
    if now_ns < expires + int(lock.get("LockDelay") or 0):
        return DELAYED
    return FREE


def lock_view(lock: VariableLock | None) -> VariableLockView | None:
    """A stored lock as Nomad's API shows it (durations as Go prints them)."""
    if not lock:
        return None
    return {
        "TTL": format_go_duration(int(lock.get("TTL") or 0)),
        "LockDelay": format_go_duration(int(lock.get("LockDelay") or 0)),
        "ID": lock.get("ID", ""),
    }


# --- what a write does ----------------------------------------------------------------

OK = "ok"
CONFLICT = "conflict"


@dataclass(frozen=True)
class Decision:
    """The outcome of a write against the stored variable: `ok` (then `lock` is what the
    variable holds afterwards, `keep_items` when the stored items stay) or `conflict`
    (answered 409 with the current variable); a refusal with a text raises instead."""

    outcome: str
    lock: VariableLock | None = None
    keep_items: bool = False


def _live(var: Variable | None, now_ns: int) -> VariableLock | None:
    """The stored lock while it still binds (held or in its delay)."""
    if var is None or lock_state(var, now_ns) == FREE:
        return None
    return var["Lock"]


def _cas_ok(var: Variable | None, cas: int | None) -> bool:
    if cas is None:
        return True
    if cas == 0:
        return var is None
    return var is not None and int(var.get("ModifyIndex") or 0) == cas


def decide_set(var: Variable | None, cas: int | None, lock_id: str, now_ns: int) -> Decision:
    """A plain write (`PUT /v1/var/:path`, `?cas=`): refused while another holds the
    variable's lock; the holder (its lock ID in the body) may change the items."""
    live = _live(var, now_ns)
    if live is not None and live.get("ID") != lock_id:
        return Decision(CONFLICT)
    if not _cas_ok(var, cas):
        return Decision(CONFLICT)
    return Decision(OK, live.copy() if live is not None else None)


def decide_delete(var: Variable | None, cas: int | None, now_ns: int) -> Decision:
    """`DELETE /v1/var/:path`: a locked variable cannot be deleted; `?cas=` must match."""
    if _live(var, now_ns) is not None:
        return Decision(CONFLICT)
    if not _cas_ok(var, cas):
        return Decision(CONFLICT)
    return Decision(OK)


def decide_acquire(
    var: Variable | None, req: LockRequest, new_id: str, now_ns: int, has_items: bool
) -> Decision:
    """`?lock-acquire`: a new lock unless one still binds (held, or in its delay); the
    request's items replace the stored ones only when it has some."""
    if _live(var, now_ns) is not None:
        return Decision(CONFLICT)
    lock: VariableLock = {
        "ID": new_id,
        "TTL": req.ttl,
        "LockDelay": req.delay,
        "Expires": now_ns + req.ttl,
    }
    return Decision(OK, lock, keep_items=var is not None and not has_items)


def decide_renew(var: Variable | None, lock_id: str, now_ns: int) -> Decision:
    """`?lock-renew`: only the holder, and only within the TTL (a lost lock stays lost)."""
    if var is None:
        raise VariableError(VAR_DOES_NOT_EXIST, 404)
    if not lock_id:
        raise VariableError(MISSING_LOCK_INFO)
    lock = var.get("Lock")
    if not lock or lock_state(var, now_ns) != HELD:
        raise VariableError(NO_LOCK, 409)
    if lock.get("ID") != lock_id:
        return Decision(CONFLICT)
    return Decision(OK, {**lock, "Expires": now_ns + int(lock["TTL"])}, keep_items=True)


def decide_release(var: Variable | None, lock_id: str, now_ns: int, has_items: bool) -> Decision:
    """`?lock-release`: the holder frees the variable at once; the items stay."""
    if has_items:
        raise VariableError(ITEMS_ON_RELEASE)
    if not lock_id:
        raise VariableError(RELEASE_NEEDS_LOCK)
    if var is None:
        raise VariableError(VAR_DOES_NOT_EXIST, 404)
    live = _live(var, now_ns)
    if live is None:
        raise VariableError(NO_LOCK, 409)
    if live.get("ID") != lock_id:
        return Decision(CONFLICT)
    return Decision(OK, None, keep_items=True)


def lock_operation(query: Mapping[str, str]) -> str:
    """The lock operation a write's query names ("" for none); at most one, never with
    `?cas=`."""
    found = [op for op in LOCK_OPERATIONS if op in query]
    if len(found) > 1:
        raise VariableError(MULTIPLE_LOCK_OPS)
    if found and query.get("cas"):
        raise VariableError(CAS_WITH_LOCK)
    return found[0] if found else ""


def parse_cas(raw: str | None) -> int | None:
    if raw is None or raw == "":
        return None
    if not raw.isdigit():
        raise VariableError(
            f'can not parse cas: strconv.ParseUint: parsing "{raw}": invalid syntax'
        )
    return int(raw)


# --- views ----------------------------------------------------------------------------


def metadata(var: Variable, *, with_lock: bool, now_ns: int) -> VariableView:
    """Nomad's `VariableMetadata` of a stored variable; a lock that no longer binds, or
    one the caller may not see, is left out."""
    lock = var.get("Lock") if with_lock and lock_state(var, now_ns) != FREE else None
    out: VariableView = {
        "Namespace": var["Namespace"],
        "Path": var["Path"],
        "CreateIndex": var.get("CreateIndex", 0),
        "CreateTime": var.get("CreateTime", 0),
        "ModifyIndex": var.get("ModifyIndex", 0),
        "ModifyTime": var.get("ModifyTime", 0),
    }
    if lock:
        out["Lock"] = lock_view(lock)
    return out


def zero_conflict(namespace: str, path: str) -> VariableView:
    """The conflict body when no variable exists (a `?cas=N` against nothing)."""
    return {
        "Namespace": namespace,
        "Path": path,
        "CreateIndex": 0,
        "CreateTime": 0,
        "ModifyIndex": 0,
        "ModifyTime": 0,
        "Items": None,
    }


def page(vars_: list[Variable], per_page: int, next_token: str) -> tuple[list[Variable], str]:
    """Nomad's paginator over variables sorted by (namespace, path): the token is the
    next page's first `namespace.path`, as its StructsTokenizer (namespace and ID) makes
    it."""
    ordered = sorted(vars_, key=lambda v: (v["Namespace"], v["Path"]))
    if next_token:
        ordered = [v for v in ordered if f"{v['Namespace']}.{v['Path']}" >= next_token]
    if per_page <= 0 or len(ordered) <= per_page:
        return ordered, ""
    nxt = ordered[per_page]
    return ordered[:per_page], f"{nxt['Namespace']}.{nxt['Path']}"

"""Workload identities: the token a task presents to the scheduler (Nomad's signed
workload identity), and the claim it carries (namespace, job, group, task) that gives the
task implicit access to its own `nomad/jobs/<job>[/<group>[/<task>]]` variables.

yurt's token is `wi.<base64url(alloc_id NUL task)>.<signature>`, signed with the
keyring's identity key (Nomad signs a JWT with its keyring); it is valid while its
allocation exists and is not terminal, as Nomad refuses claims of terminal allocations.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from yurt.scheduler import model as m
from yurt.scheduler.acl_policy import WorkloadClaim
from yurt.scheduler.keyring import Keyring

PREFIX = "wi."


def issue(keyring: Keyring, alloc_id: str, task: str) -> str:
    body = base64.urlsafe_b64encode(f"{alloc_id}\x00{task}".encode()).decode().rstrip("=")
    return f"{PREFIX}{body}.{keyring.sign(body)}"


def is_identity(token: str) -> bool:
    return token.startswith(PREFIX)


def claim_of(
    keyring: Keyring, token: str, allocs: Mapping[str, Mapping[str, Any]]
) -> WorkloadClaim | None:
    """The claim of a valid token (None: forged, malformed, or its allocation is gone or
    terminal)."""
    if not is_identity(token):
        return None
    body, _, signature = token[len(PREFIX) :].partition(".")
    if not body or not keyring.verify(body, signature):
        return None
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
    except ValueError:
        return None
    alloc_id, _, task = raw.partition("\x00")
    alloc = allocs.get(alloc_id)
    if alloc is None or m.alloc_is_terminal(alloc):
        return None
    return WorkloadClaim(
        str(alloc.get("Namespace") or m.DEFAULT_NAMESPACE),
        str(alloc.get("JobID", "")),
        str(alloc.get("TaskGroup", "")),
        task,
    )

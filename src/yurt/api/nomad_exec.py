"""Nomad's extra rule for `alloc exec`: a task whose driver does not isolate it from the node
(`raw_exec`, Nomad's FSIsolation "none") needs `alloc-node-exec` besides `alloc-exec`.

Pure and light, so that the scheduler's ACL middleware and the client's judge an exec the same
way without the client importing more of the scheduler for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

# yurt.scheduler.acl_policy.ALLOC_NODE_EXEC
ALLOC_NODE_EXEC = "alloc-node-exec"
UNISOLATED_DRIVERS = frozenset({"raw_exec"})


class NamespaceACL(Protocol):
    """What `may_exec` asks of an ACL (yurt.scheduler.acl_policy.ACL)."""

    @property
    def is_management(self) -> bool: ...

    def allow_namespace_op(self, ns: str, cap: str) -> bool: ...


def task_driver(alloc: Mapping[str, Any], task: str) -> str:
    """The driver of `task` in the allocation's task group ("" when it is not found)."""
    job = alloc.get("Job") or {}
    for tg in job.get("TaskGroups") or []:
        if tg.get("Name") != alloc.get("TaskGroup"):
            continue
        for t in tg.get("Tasks") or []:
            if t.get("Name") == task:
                return str(t.get("Driver") or "")
    return ""


def may_exec(acl: NamespaceACL, alloc: Mapping[str, Any], task: str, namespace: str) -> bool:
    """Whether a token that holds `alloc-exec` in `namespace` may exec into `task` of `alloc`
    (which must carry its `Job`)."""
    if acl.is_management or task_driver(alloc, task) not in UNISOLATED_DRIVERS:
        return True
    return acl.allow_namespace_op(namespace, ALLOC_NODE_EXEC)

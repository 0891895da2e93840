"""The calls into `yurt.jobspec` (canonicalize, validate, the parse/validate endpoints).

Kept in one place so the scheduler works, with jobs already in complete JSON, on a tree
where the jobspec package is not present yet.
"""

from __future__ import annotations

import importlib
from typing import Any

Obj = dict[str, Any]


def _jobspec() -> Any | None:
    try:
        module = importlib.import_module("yurt.jobspec")
    except ImportError:
        return None
    return module if hasattr(module, "canonicalize") else None


def canonicalize(job: Obj) -> Obj:
    js = _jobspec()
    if js is None:
        return job
    result: Obj = js.canonicalize(job)
    return result


def validate(job: Obj) -> tuple[list[str], list[str]]:
    """(errors, warnings) as text lines."""
    js = _jobspec()
    if js is None:
        return _minimal_validate(job), []
    result = js.validate(job)
    errors = [str(e) for e in getattr(result, "errors", [])]
    warnings = [str(w) for w in getattr(result, "warnings", [])]
    return errors, warnings


def _minimal_validate(job: Obj) -> list[str]:
    errors = []
    if not job.get("ID"):
        errors.append("Missing job ID")
    if not job.get("TaskGroups"):
        errors.append("Missing job task groups")
    for i, tg in enumerate(job.get("TaskGroups") or []):
        if not tg.get("Name"):
            errors.append(f"Job task group {i + 1} missing name")
        if not tg.get("Tasks"):
            errors.append(f'Task group "{tg.get("Name")}" is missing tasks')
        for task in tg.get("Tasks") or []:
            if not task.get("Driver"):
                errors.append(f'Task "{task.get("Name")}" is missing a driver')
    return errors


def parse_request(body: Any) -> Any:
    js = _jobspec()
    if js is None:
        raise NotImplementedError("job parsing needs yurt.jobspec")
    return js.api.parse_request(body)


def validate_request(body: Any) -> Any:
    js = _jobspec()
    if js is None:
        raise NotImplementedError("job validation needs yurt.jobspec")
    return js.api.validate_request(body)

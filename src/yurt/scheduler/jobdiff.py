"""Nomad's job diff (`nomad job plan` shows it): field and object diffs with string values,
task groups and tasks matched by name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from yurt.scheduler.job_keys import SERVER_FIELDS
from yurt.scheduler.structs import FieldDiff, Job, JobDiff, ObjectDiff, TaskDiff, TaskGroupDiff

# A job, group, task or any object below them, compared key by key as JSON: the diff walks
# whatever nests there (task configs, templates), so it reads them as free-form mappings.
_Doc = Mapping[str, Any]

_SKIP = SERVER_FIELDS | {"TaskGroups", "Tasks"}

_UPDATE_NAMES = {
    "Ignore": "ignore",
    "Place": "create",
    "Stop": "destroy",
    "Migrate": "migrate",
    "InPlaceUpdate": "in-place update",
    "DestructiveUpdate": "create/destroy update",
    "Canary": "canary",
}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)


def _kind(old: Any, new: Any) -> str:
    if old is None and new is not None:
        return "Added"
    if new is None and old is not None:
        return "Deleted"
    return "Edited" if old != new else "None"


def _settled(old: Any, new: Any, *parts: list[Any]) -> str:
    """The kind of change, where an edit that left nothing to show below is none."""
    kind = _kind(old, new)
    return "None" if kind == "Edited" and not any(parts) else kind


def _fields_objects(
    old: _Doc | None, new: _Doc | None, contextual: bool
) -> tuple[list[FieldDiff], list[ObjectDiff]]:
    fields: list[FieldDiff] = []
    objects: list[ObjectDiff] = []
    old = old or {}
    new = new or {}
    for key in sorted(set(old) | set(new)):
        if key in _SKIP:
            continue
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) or isinstance(b, dict):
            obj = _object(
                key,
                a if isinstance(a, dict) else None,
                b if isinstance(b, dict) else None,
                contextual,
            )
            if obj is not None:
                objects.append(obj)
        elif isinstance(a, list) or isinstance(b, list):
            la, lb = a or [], b or []
            if any(isinstance(x, dict) for x in la + lb):
                for i in range(max(len(la), len(lb))):
                    obj = _object(
                        key,
                        la[i] if i < len(la) else None,
                        lb[i] if i < len(lb) else None,
                        contextual,
                    )
                    if obj is not None:
                        objects.append(obj)
            else:
                for item in sorted({_text(x) for x in la} | {_text(x) for x in lb}):
                    in_a = item in {_text(x) for x in la}
                    in_b = item in {_text(x) for x in lb}
                    t = "None" if in_a and in_b else ("Added" if in_b else "Deleted")
                    if t != "None" or contextual:
                        fields.append(
                            {
                                "Type": t,
                                "Name": key,
                                "Old": item if in_a else "",
                                "New": item if in_b else "",
                                "Annotations": None,
                            }
                        )
        else:
            t = _kind(a, b)
            if t != "None" or contextual:
                fields.append(
                    {"Type": t, "Name": key, "Old": _text(a), "New": _text(b), "Annotations": None}
                )
    return fields, objects


def _object(name: str, old: _Doc | None, new: _Doc | None, contextual: bool) -> ObjectDiff | None:
    fields, objects = _fields_objects(old, new, contextual)
    t = _settled(old, new, fields, objects)
    if t == "None" and not contextual:
        return None
    return {"Type": t, "Name": name, "Fields": fields or None, "Objects": objects or None}


def _task_diffs(old: _Doc | None, new: _Doc | None, contextual: bool) -> list[TaskDiff]:
    """A group's tasks, matched by name; an edited task is replaced, as Nomad says."""
    tasks: list[TaskDiff] = []
    old_tasks = {t["Name"]: t for t in (old or {}).get("Tasks") or []}
    new_tasks = {t["Name"]: t for t in (new or {}).get("Tasks") or []}
    for tname in sorted(set(old_tasks) | set(new_tasks)):
        ta, tb = old_tasks.get(tname), new_tasks.get(tname)
        tf, to = _fields_objects(ta, tb, contextual)
        tt = _settled(ta, tb, tf, to)
        tasks.append(
            {
                "Type": tt,
                "Name": tname,
                "Fields": tf or None,
                "Objects": to or None,
                "Annotations": ["forces create/destroy update"] if tt == "Edited" else None,
            }
        )
    return tasks


def _group_diff(
    name: str, old: _Doc | None, new: _Doc | None, counts: dict[str, int], contextual: bool
) -> TaskGroupDiff:
    """One task group's diff, with what the plan would do to its allocations (`counts`)."""
    fields, objects = _fields_objects(old, new, contextual)
    tasks = _task_diffs(old, new, contextual)
    for f in fields:
        if f["Name"] == "Count" and f["Type"] == "Edited":
            grew = int(f["New"] or 0) > int(f["Old"] or 0)
            f["Annotations"] = ["forces create" if grew else "forces destroy"]
    changed_tasks = [task for task in tasks if task["Type"] != "None"]
    updates = {_UPDATE_NAMES[k]: v for k, v in counts.items() if v and k in _UPDATE_NAMES}
    return {
        "Type": _settled(old, new, fields, objects, changed_tasks),
        "Name": name,
        "Fields": fields or None,
        "Objects": objects or None,
        "Tasks": tasks or None,
        "Updates": updates or None,
    }


def job_diff(
    old: Job | None, new: Job, desired: dict[str, dict[str, int]], contextual: bool = False
) -> JobDiff:
    fields, objects = _fields_objects(old, new, contextual)
    old_tgs = {tg["Name"]: tg for tg in (old.get("TaskGroups") if old else None) or []}
    new_tgs = {tg["Name"]: tg for tg in new.get("TaskGroups") or []}
    groups = [
        _group_diff(name, old_tgs.get(name), new_tgs.get(name), desired.get(name) or {}, contextual)
        for name in sorted(set(old_tgs) | set(new_tgs))
    ]
    changed_groups = [g for g in groups if g["Type"] != "None"]
    return {
        "Type": _settled(old, new, fields, objects, changed_groups),
        "ID": new.get("ID", ""),
        "Fields": fields or None,
        "Objects": objects or None,
        "TaskGroups": groups or None,
    }

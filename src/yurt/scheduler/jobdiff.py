"""Nomad's job diff (`nomad job plan` shows it): field and object diffs with string values,
task groups and tasks matched by name."""

from __future__ import annotations

from typing import Any

from yurt.scheduler.job_keys import SERVER_FIELDS

Obj = dict[str, Any]

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


def _fields_objects(
    old: Obj | None, new: Obj | None, contextual: bool
) -> tuple[list[Obj], list[Obj]]:
    fields: list[Obj] = []
    objects: list[Obj] = []
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


def _object(name: str, old: Obj | None, new: Obj | None, contextual: bool) -> Obj | None:
    fields, objects = _fields_objects(old, new, contextual)
    t = _kind(old, new)
    if t == "Edited" and not fields and not objects:
        t = "None"
    if t == "None" and not contextual:
        return None
    return {"Type": t, "Name": name, "Fields": fields or None, "Objects": objects or None}


def job_diff(
    old: Obj | None, new: Obj, desired: dict[str, dict[str, int]], contextual: bool = False
) -> Obj:
    fields, objects = _fields_objects(old, new, contextual)
    groups: list[Obj] = []
    old_tgs = {tg["Name"]: tg for tg in (old or {}).get("TaskGroups") or []}
    new_tgs = {tg["Name"]: tg for tg in new.get("TaskGroups") or []}
    for name in sorted(set(old_tgs) | set(new_tgs)):
        a, b = old_tgs.get(name), new_tgs.get(name)
        tg_fields, tg_objects = _fields_objects(a, b, contextual)
        tasks = []
        old_tasks = {t["Name"]: t for t in (a or {}).get("Tasks") or []}
        new_tasks = {t["Name"]: t for t in (b or {}).get("Tasks") or []}
        for tname in sorted(set(old_tasks) | set(new_tasks)):
            ta, tb = old_tasks.get(tname), new_tasks.get(tname)
            tf, to = _fields_objects(ta, tb, contextual)
            tt = _kind(ta, tb)
            if tt == "Edited" and not tf and not to:
                tt = "None"
            annotations = ["forces create/destroy update"] if tt == "Edited" else None
            tasks.append(
                {
                    "Type": tt,
                    "Name": tname,
                    "Fields": tf or None,
                    "Objects": to or None,
                    "Annotations": annotations,
                }
            )
        for f in tg_fields:
            if f["Name"] == "Count" and f["Type"] == "Edited":
                grew = int(f["New"] or 0) > int(f["Old"] or 0)
                f["Annotations"] = ["forces create" if grew else "forces destroy"]
        t = _kind(a, b)
        if (
            t == "Edited"
            and not tg_fields
            and not tg_objects
            and all(task["Type"] == "None" for task in tasks)
        ):
            t = "None"
        counts = desired.get(name) or {}
        updates = {_UPDATE_NAMES[k]: v for k, v in counts.items() if v and k in _UPDATE_NAMES}
        groups.append(
            {
                "Type": t,
                "Name": name,
                "Fields": tg_fields or None,
                "Objects": tg_objects or None,
                "Tasks": tasks or None,
                "Updates": updates or None,
            }
        )
    t = _kind(old, new)
    if t == "Edited" and not fields and not objects and all(g["Type"] == "None" for g in groups):
        t = "None"
    return {
        "Type": t,
        "ID": new.get("ID", ""),
        "Fields": fields or None,
        "Objects": objects or None,
        "TaskGroups": groups or None,
    }

"""JSON field types of a job submitted through the API (what Go's JSON decoding rejects
before Nomad's checks run): "Count": "two" is a 400 naming the field, not a crash."""

from __future__ import annotations

from typing import Any

from yurt.jobspec.evaluate import type_name
from yurt.jobspec.schema import SPECS, Spec

_KIND_NAMES = {
    "str": "a string",
    "int": "a number",
    "float": "a number",
    "bool": "true or false",
    "dur": "a duration in nanoseconds",
    "strs": "a list of strings",
    "map": "an object of strings",
    "listmap": "an object of string lists",
}

# Fields the API carries that no HCL attribute fills, with their JSON kinds.
_EXTRA: dict[str, dict[str, str]] = {
    "job": {
        "Stop": "bool",
        "ParentID": "str",
        "Dispatched": "bool",
        "Status": "str",
        "StatusDescription": "str",
        "Stable": "bool",
        "Version": "int",
        "SubmitTime": "int",
        "CreateIndex": "int",
        "ModifyIndex": "int",
        "JobModifyIndex": "int",
        "ConsulNamespace": "str",
        "VaultNamespace": "str",
        "NomadTokenID": "str",
    },
    "group": {"Name": "str"},
    "task": {"Name": "str"},
    "port": {"Label": "str"},
    "volume": {"Name": "str"},
    "device": {"Name": "str"},
    "spread_target": {"Value": "str"},
    "periodic": {"SpecType": "str"},
}


def _ok(value: Any, kind: str) -> bool:
    if value is None:
        return True
    if kind == "str":
        return isinstance(value, str)
    if kind in ("int", "dur"):
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "strs":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if kind == "map":
        return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
    if kind == "listmap":
        return isinstance(value, dict) and all(_ok(v, "strs") for v in value.values())
    return True


def type_errors(job: Any) -> list[tuple[str, str]]:
    """(JSON path, message) for every field of the wrong JSON type."""
    errors: list[tuple[str, str]] = []
    if not isinstance(job, dict):
        return [("", f"the job must be an object, got {type_name(job, article=True)}")]
    _check(job, SPECS["job"], "", errors)
    return errors


def _check(obj: dict[str, Any], spec: Spec, path: str, errors: list[tuple[str, str]]) -> None:
    kinds: dict[str, str] = {a.json: a.kind for a in spec.attrs.values() if a.json}
    kinds.update(_EXTRA.get(spec.name, {}))
    blocks = {b.json: b for b in spec.blocks.values() if b.json}
    for key, value in obj.items():
        here = f"{path}.{key}" if path else key
        if key in blocks and value is not None:
            b = blocks[key]
            if b.spec in ("map", "listmap"):
                if not _ok(value, b.spec):
                    errors.append(
                        (
                            here,
                            f"expected {_KIND_NAMES[b.spec]}, got {type_name(value, article=True)}",
                        )
                    )
            elif b.spec == "freeform":
                continue
            elif b.keyed:
                if not isinstance(value, dict):
                    errors.append(
                        (here, f"expected an object, got {type_name(value, article=True)}")
                    )
                    continue
                for name, item in value.items():
                    _item(item, SPECS[b.spec], f'{here}["{name}"]', errors)
            elif b.multi:
                if not isinstance(value, list):
                    errors.append((here, f"expected a list, got {type_name(value, article=True)}"))
                    continue
                for i, item in enumerate(value):
                    _item(item, SPECS[b.spec], f"{here}[{i}]", errors)
            else:
                _item(value, SPECS[b.spec], here, errors)
        elif key in kinds and not _ok(value, kinds[key]):
            errors.append(
                (here, f"expected {_KIND_NAMES[kinds[key]]}, got {type_name(value, article=True)}")
            )


def _item(value: Any, spec: Spec, path: str, errors: list[tuple[str, str]]) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        errors.append((path, f"expected an object, got {type_name(value, article=True)}"))
        return
    _check(value, spec, path, errors)

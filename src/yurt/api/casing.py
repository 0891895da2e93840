"""Field-name casing on the wire.

Consul and Nomad decode request bodies case-insensitively (py-consul sends lower-case keys,
the Go clients PascalCase, some tools snake_case) and always answer in PascalCase.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def fold(name: str) -> str:
    """The form under which two spellings of a field name compare equal."""
    return name.replace("_", "").replace("-", "").lower()


def get_field(data: Mapping[str, Any], name: str, default: Any = None) -> Any:
    """Look a field up the way Go's encoding/json does: exact match first, then folded."""
    if name in data:
        return data[name]
    wanted = fold(name)
    for key, value in data.items():
        if fold(key) == wanted:
            return value
    return default


def has_field(data: Mapping[str, Any], name: str) -> bool:
    wanted = fold(name)
    return any(fold(key) == wanted for key in data)


def pascal_case(name: str) -> str:
    """snake_case or camelCase to PascalCase, keeping Consul's/Nomad's initialisms."""
    parts = name.replace("-", "_").split("_")
    out = []
    for part in parts:
        if not part:
            continue
        upper = part.upper()
        if upper in _INITIALISMS:
            out.append(upper)
        else:
            out.append(part[0].upper() + part[1:])
    return "".join(out)


_INITIALISMS = {"ID", "TTL", "HTTP", "TCP", "UDP", "TLS", "CPU", "IP", "DNS", "GRPC", "KV", "URL"}

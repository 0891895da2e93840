"""Config entries (`/v1/config`): decoding a body as Consul's decoder does, each kind's
validation with Consul's texts, and the answer's shape. Pure: the store keeps the entries.

A body's keys match a kind's fields case-insensitively, snake_case aliases included
(`mesh_gateway` is `MeshGateway`), as Consul's mapstructure decoding does; an unknown key
anywhere is a 400 naming its path (`invalid config key "Routes[0].Bogus"`). What passes
decoding is validated; a refusal there is Consul's 500 with the validation's text.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from yurt.api.durations import duration_from_json, format_go_duration
from yurt.catalog.config_entry_kinds import (
    ALWAYS,
    ANY,
    BOOL,
    DURATION,
    EXPORTED_SERVICES,
    FLOAT,
    INGRESS_GATEWAY,
    INT,
    KINDS,
    MESH,
    MESH_CONFIG_MESH,
    PROXY_CONFIG_GLOBAL,
    PROXY_DEFAULTS,
    SERVICE_DEFAULTS,
    SERVICE_INTENTIONS,
    SERVICE_RESOLVER,
    SERVICE_ROUTER,
    SERVICE_SPLITTER,
    STR,
    STRLIST,
    STRMAP,
    ListOf,
    MapOf,
    Obj,
    Spec,
)

DECODE_FAILED = "Request decoding failed: "
NO_KIND = "Payload does not contain a kind/Kind key at the top level"
INGRESS_PROTOCOLS = ("tcp", "http", "http2", "grpc")


class DecodeError(ValueError):
    """A body Consul's decoder refuses: answered 400 `Bad request: Request decoding failed`."""


class ValidationError(ValueError):
    """An entry that decodes but that Consul's validation refuses: answered 500."""


@dataclass
class ConfigEntry:
    kind: str
    name: str
    # the decoded fields under their canonical names, Kind and Name aside
    body: dict[str, Any] = field(default_factory=dict)
    create_index: int = 0
    modify_index: int = 0

    @property
    def key(self) -> str:
        return entry_key(self.kind, self.name)

    def to_json(self) -> dict[str, Any]:
        """Consul's answer: Kind, Name, the kind's fields in Consul's order, the indexes."""
        out: dict[str, Any] = {"Kind": self.kind}
        if self.kind != MESH:
            out["Name"] = self.name
        merged = {**ALWAYS.get(self.kind, {}), **self.body}
        for name in KINDS[self.kind].names():
            if name in merged and name not in ("Kind", "Name"):
                out[name] = merged[name]
        out["CreateIndex"] = self.create_index
        out["ModifyIndex"] = self.modify_index
        return out

    def to_record(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "body": self.body,
            "create_index": self.create_index,
            "modify_index": self.modify_index,
        }

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> ConfigEntry:
        return cls(**data)


def entry_key(kind: str, name: str) -> str:
    return f"{kind}/{name}"


def known_kind(kind: str) -> bool:
    return kind in KINDS


def check_kind(kind: str) -> None:
    """Consul's refusal of a kind it does not know (a 500 on reads)."""
    if kind not in KINDS:
        raise ValidationError(f"invalid config entry kind: {kind}")


# -- decoding ----------------------------------------------------------------------------------


def _fold(key: str) -> str:
    return key.replace("_", "").replace("-", "").lower()


def _go_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "[]interface {}"
    if isinstance(value, dict):
        return "map[string]interface {}"
    return "<nil>"


class _Decoder:
    def __init__(self) -> None:
        self.errors: list[str] = []

    def wrong(self, path: str, want: str, value: Any) -> None:
        self.errors.append(
            f"'{path}' expected type '{want}', got unconvertible type '{_go_type(value)}', "
            f"value: '{value}'"
        )

    def value(self, spec: Spec, value: Any, path: str) -> Any:
        if value is None:
            return None
        if isinstance(spec, Obj):
            return self.object(spec, value, path)
        if isinstance(spec, ListOf):
            if not isinstance(value, list):
                self.wrong(path, "[]", value)
                return None
            return [self.value(spec.item, v, f"{path}[{i}]") for i, v in enumerate(value)]
        if isinstance(spec, MapOf):
            if not isinstance(value, dict):
                self.wrong(path, "map", value)
                return None
            return {k: self.value(spec.item, v, f"{path}[{k}]") for k, v in value.items()}
        return self.leaf(spec, value, path)

    def leaf(self, spec: str, value: Any, path: str) -> Any:
        if spec == ANY:
            return value
        if spec == STR:
            if isinstance(value, str):
                return value
            if isinstance(value, bool | int | float):  # weakly typed, as Consul decodes
                return str(value).lower() if isinstance(value, bool) else str(value)
            self.wrong(path, "string", value)
        elif spec == BOOL:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
                return value.lower() in ("true", "1")
            self.wrong(path, "bool", value)
        elif spec in (INT, FLOAT):
            number = value
            if isinstance(value, str):
                try:
                    number = float(value)
                except ValueError:
                    number = None
            if isinstance(number, bool) or not isinstance(number, int | float):
                self.wrong(path, "int" if spec == INT else "float64", value)
                return None
            if spec == INT or float(number).is_integer():
                return int(number)
            return float(number)
        elif spec == DURATION:
            try:
                return format_go_duration(duration_from_json(value, path))
            except ValueError:
                self.wrong(path, "time.Duration", value)
        elif spec == STRLIST:
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                return list(value)
            self.wrong(path, "[]string", value)
        elif spec == STRMAP:
            if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
                return dict(value)
            self.wrong(path, "map[string]string", value)
        return None

    def object(self, spec: Obj, value: Any, path: str) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.wrong(path or "entry", "struct", value)
            return None
        by_fold = {_fold(name): (name, sub) for name, sub in spec.fields}
        out: dict[str, Any] = {}
        for key, raw in value.items():
            known = by_fold.get(_fold(key))
            where = f"{path}.{key}" if path else key
            if known is None:
                self.errors.append(f"invalid config key {where!r}".replace("'", '"'))
                continue
            name, sub = known
            decoded = self.value(sub, raw, f"{path}.{name}" if path else name)
            if decoded is not None:
                out[name] = decoded
        return out


def _multierror(errors: list[str]) -> str:
    head = "1 error occurred:" if len(errors) == 1 else f"{len(errors)} errors occurred:"
    return head + "".join(f"\n\t* {e}" for e in errors) + "\n\n"


def decode(raw: Any) -> ConfigEntry:
    """A `PUT /v1/config` body as an entry; raises DecodeError (400) or ValidationError
    (500) with Consul's texts."""
    if not isinstance(raw, dict):
        raise DecodeError(
            DECODE_FAILED + "Payload does not contain a kind/Kind key at the top level"
        )
    kind = raw.get("Kind", raw.get("kind"))
    if kind is None:
        raise DecodeError(
            DECODE_FAILED + "Payload does not contain a kind/Kind key at the top level"
        )
    if not isinstance(kind, str):
        raise DecodeError(DECODE_FAILED + "Kind value in payload is not a string")
    if kind not in KINDS:
        raise DecodeError(DECODE_FAILED + f"invalid config entry kind: {kind}")
    decoder = _Decoder()
    body = decoder.object(KINDS[kind], raw, "") or {}
    if decoder.errors:
        raise DecodeError(DECODE_FAILED + _multierror(decoder.errors))
    body.pop("Kind", None)
    name = str(body.pop("Name", "") or "")
    entry = ConfigEntry(kind=kind, name=name, body=body)
    normalize(entry)
    validate(entry)
    return entry


# -- normalization and validation -------------------------------------------------------------


def normalize(entry: ConfigEntry) -> None:
    """What Consul's Normalize() fills in or rewrites before validating."""
    if entry.kind == PROXY_DEFAULTS:
        if entry.name not in ("", PROXY_CONFIG_GLOBAL):
            raise ValidationError(
                f'invalid name ("{entry.name}"), only "{PROXY_CONFIG_GLOBAL}" is supported'
            )
        entry.name = PROXY_CONFIG_GLOBAL
    elif entry.kind == MESH:
        entry.name = MESH_CONFIG_MESH
    elif entry.kind == SERVICE_INTENTIONS:
        from yurt.catalog.intentions import normalize_sources

        normalize_sources(entry.name, entry.body.get("Sources") or [])


def validate(entry: ConfigEntry) -> None:
    if not entry.name:
        raise ValidationError("Name is required")
    check = _VALIDATORS.get(entry.kind)
    if check is not None:
        check(entry)


def _splitter(entry: ConfigEntry) -> None:
    splits = entry.body.get("Splits") or []
    if not splits:
        raise ValidationError("no splits configured")
    total = sum(float(s.get("Weight", 0)) for s in splits)
    if round(total * 100) != 10000:
        raise ValidationError(f"the sum of all split weights must be 100, not {total:f}")


def _resolver(entry: ConfigEntry) -> None:
    body = entry.body
    subsets = body.get("Subsets") or {}
    if body.get("Redirect") and subsets:
        raise ValidationError("Redirect and Subsets cannot both be set")
    default = body.get("DefaultSubset", "")
    if default and default not in subsets:
        raise ValidationError(f'DefaultSubset "{default}" is not a valid subset')
    for key in body.get("Failover") or {}:
        if key != "*" and key not in subsets:
            raise ValidationError(f'Bad Failover["{key}"]: not a valid subset')


def _router(entry: ConfigEntry) -> None:
    for i, route in enumerate(entry.body.get("Routes") or []):
        http = (route.get("Match") or {}).get("HTTP") or {}
        paths = [k for k in ("PathExact", "PathPrefix", "PathRegex") if http.get(k)]
        if len(paths) > 1:
            raise ValidationError(
                f"Route[{i}] should only contain at most one of PathExact, PathPrefix, or PathRegex"
            )
        for key in ("PathExact", "PathPrefix"):
            value = http.get(key, "")
            if value and not value.startswith("/"):
                raise ValidationError(f"Route[{i}] {key} doesn't start with '/': \"{value}\"")


def _ingress(entry: ConfigEntry) -> None:
    seen: set[int] = set()
    for listener in entry.body.get("Listeners") or []:
        protocol = listener.get("Protocol") or "tcp"
        if protocol not in INGRESS_PROTOCOLS:
            raise ValidationError(
                "protocol must be 'tcp', 'http', 'http2', or 'grpc'. "
                f"'{protocol}' is an unsupported protocol"
            )
        port = int(listener.get("Port", 0))
        if port in seen:
            raise ValidationError(f"port {port} declared on two listeners")
        seen.add(port)


def _intentions(entry: ConfigEntry) -> None:
    from yurt.catalog.intentions import validate_sources

    validate_sources(entry.body.get("Sources") or [])


def _exported(entry: ConfigEntry) -> None:
    for i, svc in enumerate(entry.body.get("Services") or []):
        if not svc.get("Name"):
            raise ValidationError(f"Services[{i}]: service name cannot be empty")
        if not svc.get("Consumers"):
            raise ValidationError(f"Services[{i}]: must have at least one consumer")


_VALIDATORS = {
    SERVICE_SPLITTER: _splitter,
    SERVICE_RESOLVER: _resolver,
    SERVICE_ROUTER: _router,
    INGRESS_GATEWAY: _ingress,
    SERVICE_INTENTIONS: _intentions,
    EXPORTED_SERVICES: _exported,
}


# -- ACL: which rule reads and writes each kind ------------------------------------------------

# (resource, on the entry's name?) per kind; Consul 1.17's CanRead/CanWrite
_SERVICE_KINDS = (SERVICE_DEFAULTS, SERVICE_ROUTER, SERVICE_SPLITTER, SERVICE_RESOLVER)
_GATEWAYS = (INGRESS_GATEWAY, "terminating-gateway", "api-gateway")


def read_rule(kind: str, name: str) -> tuple[str, str] | None:
    """(resource, name) that reading the entry needs; None: anyone may read it."""
    if kind in (PROXY_DEFAULTS, MESH):
        return None
    if kind in _SERVICE_KINDS or kind in _GATEWAYS:
        return ("service", name)
    if kind == SERVICE_INTENTIONS:
        return ("intention", name)
    return ("mesh", "")


def write_rule(kind: str, name: str) -> tuple[str, str]:
    if kind in _SERVICE_KINDS:
        return ("service", name)
    if kind == SERVICE_INTENTIONS:
        return ("intention", name)
    if kind == "control-plane-request-limit":
        return ("operator", "")
    return ("mesh", "")


def iter_kinds() -> Iterator[str]:
    yield from KINDS

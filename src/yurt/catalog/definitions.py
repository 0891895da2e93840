"""Service and check definitions as clients send them, read into the catalog's records.

Bodies arrive in PascalCase (Go clients), lower case (py-consul) or snake_case (config
files); fields are looked up case-insensitively. Every error names the field it is about and
what was expected, and nothing is stored unless the whole definition is valid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from yurt.api.casing import get_field
from yurt.api.durations import SECOND, duration_from_json
from yurt.api.http import json_type_name
from yurt.catalog.connect_proxy import (
    ConnectError,
    connect_block,
    proxy_block,
    validate_proxy,
)
from yurt.catalog.model import (
    DEFAULT_WEIGHTS,
    STATUSES,
    Check,
    CheckDefinition,
    Service,
)

DEFAULT_CHECK_TIMEOUT_NS = 10 * SECOND
# Consul's CheckMonitor gives a script 30 s unless the check says otherwise
DEFAULT_SCRIPT_TIMEOUT_NS = 30 * SECOND

# Consul's texts (500) for a script check on an agent that does not run them
REMOTE_SCRIPTS_DISABLED = (
    "Scripts are disabled on this agent from remote calls; "
    "to enable, configure 'enable_script_checks' to true"
)
LOCAL_SCRIPTS_DISABLED = (
    "Scripts are disabled on this agent; "
    "to enable, configure 'enable_script_checks' or 'enable_local_script_checks' to true"
)

_UNSUPPORTED_CHECK_FIELDS = {
    # Consul 0.x's shell string, gone since 1.1: `Args` replaced it
    "Script": "shell-string script (use Args)",
    "UDP": "UDP",
    "DockerContainerID": "Docker",
    "AliasNode": "alias",
    "AliasService": "alias",
    "OSService": "OS service",
}


_DEFAULT_TIMEOUTS = {
    "http": DEFAULT_CHECK_TIMEOUT_NS,
    "tcp": DEFAULT_CHECK_TIMEOUT_NS,
    "script": DEFAULT_SCRIPT_TIMEOUT_NS,
    "grpc": DEFAULT_CHECK_TIMEOUT_NS,
    "h2ping": DEFAULT_CHECK_TIMEOUT_NS,
}


class DefinitionError(ValueError):
    """A definition that cannot be accepted; the message is the HTTP answer's text."""


class ScriptsDisabled(ValueError):
    """A script check on an agent whose settings do not allow it (Consul answers 500)."""


def refuse_disabled_scripts(
    checks: list[Check], *, remote: bool, enable_script: bool, enable_local: bool
) -> None:
    """Consul's rule: `enable_script_checks` allows script checks from the HTTP API and
    config files, `enable_local_script_checks` from config files only."""
    if not any(c.definition.kind == "script" for c in checks):
        return
    if remote and not enable_script:
        raise ScriptsDisabled(REMOTE_SCRIPTS_DISABLED)
    if not remote and not (enable_script or enable_local):
        raise ScriptsDisabled(LOCAL_SCRIPTS_DISABLED)


@dataclass
class ServiceDefinition:
    service: Service
    checks: list[Check]
    # Connect.SidecarService as given: the agent expands it into the sidecar's registration
    sidecar: dict[str, Any] | None = None


def _str(data: dict[str, Any], name: str, where: str, default: str = "") -> str:
    value = get_field(data, name)
    if value is None:
        return default
    if not isinstance(value, str):
        raise DefinitionError(f"{where}{name}: expected a string, got {json_type_name(value)}")
    return value


def _int(data: dict[str, Any], name: str, where: str, default: int = 0) -> int:
    value = get_field(data, name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise DefinitionError(f"{where}{name}: expected an integer, got {json_type_name(value)}")
    return int(value)


def _bool(data: dict[str, Any], name: str, where: str) -> bool:
    value = get_field(data, name)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise DefinitionError(f"{where}{name}: expected true or false, got {json_type_name(value)}")
    return value


def _bool_default(data: dict[str, Any], name: str, where: str, default: bool) -> bool:
    return _bool(data, name, where) if get_field(data, name) is not None else default


def _str_list(data: dict[str, Any], name: str, where: str) -> list[str]:
    value = get_field(data, name)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DefinitionError(f"{where}{name}: expected an array of strings")
    return list(value)


def _str_map(data: dict[str, Any], name: str, where: str) -> dict[str, str]:
    value = get_field(data, name)
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise DefinitionError(f"{where}{name}: expected an object of string values")
    return dict(value)


def _duration(data: dict[str, Any], name: str, where: str) -> int:
    value = get_field(data, name)
    if value is None or value == "":
        return 0
    try:
        ns = duration_from_json(value, f"{where}{name}")
    except ValueError as exc:
        raise DefinitionError(str(exc)) from None
    if ns < 0:
        raise DefinitionError(f"{where}{name}: must not be negative")
    return ns


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise DefinitionError(f"{where}: expected a JSON object, got {json_type_name(value)}")
    return value


def _tagged_addresses(raw: Any, where: str) -> dict[str, Any]:
    """A service's `TaggedAddresses`, each as Consul stores it: `{"Address": ..., "Port": ...}`
    whatever the case of the keys sent (Go decodes JSON keys case-insensitively)."""
    if raw is None:
        return {}
    out: dict[str, Any] = {}
    for tag, value in _object(raw, where).items():
        obj = _object(value, f"{where}.{tag}")
        out[tag] = {
            "Address": _str(obj, "Address", f"{where}.{tag}."),
            "Port": _int(obj, "Port", f"{where}.{tag}."),
        }
    return out


def _check_kind(data: dict[str, Any], where: str) -> str:
    """Which of Consul's check types a definition is: exactly one field says it."""
    for name, what in _UNSUPPORTED_CHECK_FIELDS.items():
        if get_field(data, name) not in (None, "", [], False):
            raise DefinitionError(
                f"Invalid check: {where}{name}: {what} checks are not supported by yurt "
                "(supported: Args, HTTP, TCP, GRPC, H2PING, TTL)"
            )
    given = {
        "http": _str(data, "HTTP", where),
        "tcp": _str(data, "TCP", where),
        "ttl": _duration(data, "TTL", where),
        "script": _str_list(data, "Args", where) or _str_list(data, "ScriptArgs", where),
        "grpc": _str(data, "GRPC", where),
        "h2ping": _str(data, "H2PING", where),
    }
    kinds = [k for k, v in given.items() if v]
    if not kinds:
        raise DefinitionError(
            f"Invalid check: {where.rstrip('.') or 'check'}: one of Args, HTTP, TCP, GRPC, "
            "H2PING or TTL must be given (all but TTL also need an Interval)"
        )
    if len(kinds) > 1:
        raise DefinitionError(
            f"Invalid check: {where}: only one of Args, HTTP, TCP, GRPC, H2PING or TTL may be "
            "given, got " + ", ".join(k.upper() for k in kinds)
        )
    return kinds[0]


def parse_check(
    data: dict[str, Any],
    *,
    node: str,
    where: str = "",
    service: Service | None = None,
    default_id: str = "",
) -> Check:
    """A check definition (`/v1/agent/check/register`, or one of a service's `Checks`)."""
    kind = _check_kind(data, where)
    http = _str(data, "HTTP", where)
    tcp = _str(data, "TCP", where)
    ttl_ns = _duration(data, "TTL", where)
    interval_ns = _duration(data, "Interval", where)
    timeout_ns = _duration(data, "Timeout", where)
    args = _str_list(data, "Args", where) or _str_list(data, "ScriptArgs", where)
    grpc = _str(data, "GRPC", where)
    h2ping = _str(data, "H2PING", where)
    if kind != "ttl" and interval_ns <= 0:
        raise DefinitionError(
            f"Invalid check: {where}Interval must be > 0 "
            "for Script, HTTP, H2PING, TCP or UDP checks"
        )
    if kind == "ttl" and interval_ns > 0:
        raise DefinitionError(f"Invalid check: {where}Interval and TTL cannot both be specified")
    if kind == "tcp" and ":" not in tcp:
        raise DefinitionError(f'Invalid check: {where}TCP: expected "host:port", got {tcp!r}')
    if kind == "http" and not (http.startswith("http://") or http.startswith("https://")):
        raise DefinitionError(
            f"Invalid check: {where}HTTP: expected an http(s):// URL, got {http!r}"
        )
    header_raw = get_field(data, "Header")
    header: dict[str, list[str]] = {}
    if header_raw is not None:
        if not isinstance(header_raw, dict):
            raise DefinitionError(f"{where}Header: expected an object of string arrays")
        for key, values in header_raw.items():
            if isinstance(values, str):
                values = [values]
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                raise DefinitionError(f"{where}Header.{key}: expected an array of strings")
            header[key] = list(values)
    status = _str(data, "Status", where)
    if status and status not in STATUSES:
        raise DefinitionError(
            f"Invalid check: {where}Status: must be one of passing, warning or critical, "
            f"got {status!r}"
        )
    definition = CheckDefinition(
        kind=kind,
        http=http,
        method=_str(data, "Method", where).upper(),
        header=header,
        body=_str(data, "Body", where),
        tls_skip_verify=_bool(data, "TLSSkipVerify", where),
        tcp=tcp,
        interval_ns=interval_ns,
        timeout_ns=timeout_ns or _DEFAULT_TIMEOUTS.get(kind, 0),
        ttl_ns=ttl_ns,
        deregister_after_ns=_duration(data, "DeregisterCriticalServiceAfter", where),
        success_before_passing=_int(data, "SuccessBeforePassing", where),
        failures_before_warning=_int(data, "FailuresBeforeWarning", where),
        failures_before_critical=_int(data, "FailuresBeforeCritical", where),
        args=args,
        grpc=grpc,
        grpc_use_tls=_bool(data, "GRPCUseTLS", where),
        h2ping=h2ping,
        h2ping_use_tls=_bool_default(data, "H2PingUseTLS", where, True),
    )
    check_id = _str(data, "CheckID", where) or _str(data, "ID", where) or default_id
    name = _str(data, "Name", where)
    service_id = service.id if service is not None else _str(data, "ServiceID", where)
    if not check_id:
        check_id = name
    if not name and service is not None:
        name = f"Service '{service.name}' check"
    if not name:
        raise DefinitionError("Missing check name")
    if not check_id:
        raise DefinitionError("Missing check ID")
    return Check(
        node=node,
        check_id=check_id,
        name=name,
        status=status or "critical",
        notes=_str(data, "Notes", where),
        output="",
        service_id=service_id,
        service_name=service.name if service is not None else "",
        service_tags=list(service.tags) if service is not None else [],
        definition=definition,
    )


def is_empty_check(data: Any) -> bool:
    """py-consul sends `"check": {}` when no check is given; Consul ignores an empty one."""
    return isinstance(data, dict) and not any(v not in (None, "", 0, False) for v in data.values())


def parse_service(data: dict[str, Any], *, node: str, where: str = "") -> ServiceDefinition:
    """A service definition (`/v1/agent/service/register` or a config file's `service`)."""
    name = _str(data, "Name", where)
    if not name:
        raise DefinitionError("Missing service name")
    weights_raw = get_field(data, "Weights")
    weights = dict(DEFAULT_WEIGHTS)
    if weights_raw is not None:
        weights_obj = _object(weights_raw, f"{where}Weights")
        weights = {
            "Passing": _int(weights_obj, "Passing", f"{where}Weights.", 1),
            "Warning": _int(weights_obj, "Warning", f"{where}Weights.", 1),
        }
        if weights["Passing"] < 1:
            raise DefinitionError(f"{where}Weights.Passing: must be greater than 0")
    tagged = _tagged_addresses(get_field(data, "TaggedAddresses"), f"{where}TaggedAddresses")
    port = _int(data, "Port", where)
    if not 0 <= port <= 65535:
        raise DefinitionError(f"{where}Port: must be between 0 and 65535, got {port}")
    try:
        proxy = proxy_block(get_field(data, "Proxy"), f"{where}Proxy")
        connect, sidecar = connect_block(get_field(data, "Connect"))
        validate_proxy(_str(data, "Kind", where), port, proxy)
        if not _str(data, "Kind", where):
            proxy = {}  # a typical service has no proxy block: Consul keeps none
    except ConnectError as exc:
        raise DefinitionError(str(exc)) from None
    service = Service(
        node=node,
        id=_str(data, "ID", where) or name,
        name=name,
        tags=_str_list(data, "Tags", where),
        address=_str(data, "Address", where),
        port=port,
        meta=_str_map(data, "Meta", where),
        weights=weights,
        tagged_addresses=tagged,
        enable_tag_override=_bool(data, "EnableTagOverride", where),
        kind=_str(data, "Kind", where),
        proxy=proxy,
        connect=connect,
    )
    raw_checks: list[tuple[str, Any]] = []
    single = get_field(data, "Check")
    if single is not None and not is_empty_check(single):
        raw_checks.append((f"{where}Check", single))
    many = get_field(data, "Checks")
    if many is not None:
        if not isinstance(many, list):
            raise DefinitionError(f"{where}Checks: expected an array, got {json_type_name(many)}")
        raw_checks.extend(
            (f"{where}Checks[{i}]", c) for i, c in enumerate(many) if not is_empty_check(c)
        )
    checks: list[Check] = []
    for i, (path, raw) in enumerate(raw_checks):
        obj = _object(raw, path)
        default_id = f"service:{service.id}" + (f":{i + 1}" if len(raw_checks) > 1 else "")
        checks.append(
            parse_check(obj, node=node, where=f"{path}.", service=service, default_id=default_id)
        )
    ids = [c.check_id for c in checks]
    if len(set(ids)) != len(ids):
        raise DefinitionError(f"{where}Checks: check IDs must be unique, got {ids}")
    return ServiceDefinition(service=service, checks=checks, sidecar=sidecar)

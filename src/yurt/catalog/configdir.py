"""Service definitions from `-config-dir`: JSON and HCL files shaped like Consul's.

A file holds `{"service": {...}}` or `{"services": [{...}, ...]}`; other top-level keys are
agent settings, read by `config_settings` (TLS, ports) and the ACL reader, or refused there
with their position. In HCL the same is written with blocks: `service { ... }`,
one `services { ... }` block per service, `check { ... }` or `checks { ... }` blocks inside,
and `meta { ... }` for maps; keys in snake_case as Consul's documentation writes them. HCL
files are read with yurt's HCL2 parser, which takes the HCL1 that Consul's examples use except
for HCL1-only forms (objects without `=`, `"quoted" = keys` at block level). Files are read in
name order; an error names the file and its line and column.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from yurt.api.casing import fold, get_field
from yurt.catalog.acl_config import ACLConfigError, load_acl
from yurt.catalog.config import ConsulACLConfig
from yurt.catalog.config_settings import CatalogSettings, SettingsError, read_settings
from yurt.catalog.definitions import DefinitionError, ServiceDefinition, parse_service
from yurt.jobspec.diagnostics import Collector, JobspecError
from yurt.jobspec.evaluate import EvalError, Scope, evaluate
from yurt.jobspec.functions import functions
from yurt.jobspec.syntax import Body, parse_body

log = logging.getLogger(__name__)


CONFIG_SOURCE = "config"


class ConfigDirError(ValueError):
    pass


def load_services(dirs: list[Path], node: str) -> list[ServiceDefinition]:
    out: list[ServiceDefinition] = []
    for directory in dirs:
        if not directory.is_dir():
            raise ConfigDirError(f"{directory}: config directory does not exist")
        for path in sorted(directory.iterdir()):
            if path.suffix not in (".json", ".hcl") or not path.is_file():
                continue
            data = read_file(path)
            # Every other top-level key is a setting: implemented or refused, never ignored.
            try:
                read_settings(path, data, CatalogSettings())
            except SettingsError as exc:
                raise ConfigDirError(str(exc)) from None
            out.extend(_definitions(path, data, node))
    return out


def load_acl_settings(dirs: list[Path], acl: ConsulACLConfig) -> None:
    """The files' `acl { }` blocks onto `acl` (later files win); ConfigDirError names the
    file:line:column of a bad setting."""
    try:
        load_acl(dirs, acl, read_file)
    except ACLConfigError as exc:
        raise ConfigDirError(str(exc)) from None


def read_file(path: Path) -> dict[str, Any]:
    """A JSON or HCL config file as the JSON object Consul decodes it to."""
    return _read_json(path) if path.suffix == ".json" else _read_hcl(path)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data: Any = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ConfigDirError(f"{path}:{exc.lineno}:{exc.colno}: {exc.msg}") from None
    if not isinstance(data, dict):
        raise ConfigDirError(f"{path}: expected a JSON object at the top level")
    return data


# Blocks that Consul decodes as lists even when there is one of them.
_LIST_BLOCKS = frozenset({"services", "checks"})


def _read_hcl(path: Path) -> dict[str, Any]:
    """The HCL file as the JSON object Consul would decode it to."""
    try:
        body = parse_body(path.read_text(), str(path))
        collector = Collector(str(path))
        data = _hcl_object(body, Scope({}, {}, functions(None)), collector)
        collector.raise_if_any()
    except JobspecError as exc:
        raise ConfigDirError(str(exc)) from None
    return data


def _hcl_object(body: Body, scope: Scope, collector: Collector) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, attr in body.attributes.items():
        try:
            out[name] = evaluate(attr.expr, scope)
        except EvalError as exc:
            collector.error(exc.pos, exc.message)
    for block in body.blocks:
        if block.labels:
            collector.error(
                block.pos, f'block "{block.type}" takes no labels in a service definition'
            )
            continue
        if block.type in out and not isinstance(out[block.type], list):
            previous = out[block.type]
            if fold(block.type) not in _LIST_BLOCKS and isinstance(previous, dict):
                out[block.type] = [previous]  # a repeated block makes a list, as in HCL1
            else:
                collector.error(block.pos, f'"{block.type}" is given twice')
                continue
        value = _hcl_object(block.body, scope, collector)
        if isinstance(out.get(block.type), list):
            out[block.type].append(value)
        elif fold(block.type) in _LIST_BLOCKS:
            out[block.type] = [value]
        else:
            out[block.type] = value
    return out


def _definitions(path: Path, data: dict[str, Any], node: str) -> list[ServiceDefinition]:
    raw: list[tuple[str, Any]] = []
    single = get_field(data, "service")
    if single is not None:
        raw.append(("service", single))
    many = get_field(data, "services")
    if many is not None:
        if not isinstance(many, list):
            raise ConfigDirError(f"{path}: services: expected an array")
        raw.extend((f"services[{i}]", s) for i, s in enumerate(many))
    out = []
    for where, item in raw:
        if not isinstance(item, dict):
            raise ConfigDirError(f"{path}: {where}: expected an object")
        try:
            definition = parse_service(item, node=node, where=f"{where}.")
            definition.service.source = CONFIG_SOURCE
            out.append(definition)
        except DefinitionError as exc:
            raise ConfigDirError(f"{path}: {exc}") from None
    return out

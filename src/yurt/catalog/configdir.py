"""Service definitions from `-config-dir`: JSON files shaped like Consul's.

A file holds `{"service": {...}}` or `{"services": [{...}, ...]}` (other top-level keys are
agent settings, which are ignored). Files are read in name order; an error names the file
and, for JSON syntax, its line and column.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from yurt.api.casing import get_field
from yurt.catalog.definitions import DefinitionError, ServiceDefinition, parse_service

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
            if path.suffix != ".json" or not path.is_file():
                if path.suffix == ".hcl":
                    log.warning("%s: HCL config files are not read by yurt; use JSON", path)
                continue
            out.extend(_load_file(path, node))
    return out


def _load_file(path: Path, node: str) -> list[ServiceDefinition]:
    try:
        data: Any = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ConfigDirError(f"{path}:{exc.lineno}:{exc.colno}: {exc.msg}") from None
    if not isinstance(data, dict):
        raise ConfigDirError(f"{path}: expected a JSON object at the top level")
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

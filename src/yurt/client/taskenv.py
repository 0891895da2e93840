"""The task environment (Nomad's NOMAD_* variables) and `${...}` runtime interpolation."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

from yurt.client.allocdir import AllocDir

Obj = dict[str, Any]

# The client's own secrets never reach a task (Nomad's default env denylist).
_DENY = re.compile(r"^(CONSUL_TOKEN|CONSUL_HTTP_TOKEN|VAULT_TOKEN|NOMAD_TOKEN|AWS_.*|GOOGLE_.*)$")
_REF = re.compile(r"\$\{([^{}]+)\}")


@dataclass(frozen=True)
class NodeView:
    """What interpolation can see of the node: `${node.*}`, `${attr.*}`, `${meta.*}`."""

    id: str
    name: str
    datacenter: str
    region: str
    node_class: str
    node_pool: str
    attributes: dict[str, str]
    meta: dict[str, str]

    def lookup(self, key: str) -> str | None:
        fixed = {
            "node.unique.id": self.id,
            "node.unique.name": self.name,
            "node.datacenter": self.datacenter,
            "node.region": self.region,
            "node.class": self.node_class,
            "node.pool": self.node_pool,
        }
        if key in fixed:
            return fixed[key]
        if key.startswith("attr."):
            return self.attributes.get(key[5:])
        if key.startswith("node.attr."):
            return self.attributes.get(key[10:])
        if key.startswith("meta."):
            return self.meta.get(key[5:])
        if key.startswith("node.meta."):
            return self.meta.get(key[10:])
        return None


def alloc_ports(alloc: Obj) -> list[Obj]:
    shared = (alloc.get("AllocatedResources") or {}).get("Shared") or {}
    return list(shared.get("Ports") or [])


def build_env(
    alloc: Obj,
    task: Obj,
    node: NodeView,
    alloc_dir: AllocDir,
    *,
    in_container: bool,
    host_env: bool,
) -> dict[str, str]:
    """Nomad's task environment. Inside a container the directories are /alloc, /local and
    /secrets; raw_exec and exec tasks see the host paths and the client's environment."""
    job = alloc.get("Job") or {}
    group = str(alloc.get("TaskGroup") or "")
    name = str(task.get("Name") or "")
    env: dict[str, str] = {}
    if host_env:
        env.update({k: v for k, v in os.environ.items() if not _DENY.match(k)})
    td = alloc_dir.task(name)
    if in_container:
        env.update(NOMAD_ALLOC_DIR="/alloc", NOMAD_TASK_DIR="/local", NOMAD_SECRETS_DIR="/secrets")
    else:
        env.update(
            NOMAD_ALLOC_DIR=str(alloc_dir.shared),
            NOMAD_TASK_DIR=str(td.local),
            NOMAD_SECRETS_DIR=str(td.secrets),
        )
    alloc_name = str(alloc.get("Name") or "")
    index = alloc_name.rsplit("[", 1)[-1].rstrip("]") if "[" in alloc_name else "0"
    resources = task.get("Resources") or {}
    env.update(
        NOMAD_ALLOC_ID=str(alloc.get("ID") or ""),
        NOMAD_SHORT_ALLOC_ID=str(alloc.get("ID") or "")[:8],
        NOMAD_ALLOC_NAME=alloc_name,
        NOMAD_ALLOC_INDEX=index,
        NOMAD_JOB_ID=str(job.get("ID") or alloc.get("JobID") or ""),
        NOMAD_JOB_NAME=str(job.get("Name") or alloc.get("JobID") or ""),
        NOMAD_JOB_PARENT_ID=str(job.get("ParentID") or ""),
        NOMAD_GROUP_NAME=group,
        NOMAD_TASK_NAME=name,
        NOMAD_CPU_LIMIT=str(int(resources.get("CPU") or 0)),
        NOMAD_MEMORY_LIMIT=str(int(resources.get("MemoryMB") or 0)),
        NOMAD_DC=node.datacenter,
        NOMAD_REGION=str(job.get("Region") or node.region),
        NOMAD_NAMESPACE=str(alloc.get("Namespace") or job.get("Namespace") or "default"),
        NOMAD_PARENT_CGROUP="",
    )
    if int(resources.get("MemoryMaxMB") or 0):
        env["NOMAD_MEMORY_MAX_LIMIT"] = str(int(resources["MemoryMaxMB"]))
    for port in alloc_ports(alloc):
        label = _env_name(str(port.get("Label") or ""))
        value = int(port.get("Value") or 0)
        to = int(port.get("To") or 0)
        ip = str(port.get("HostIP") or "127.0.0.1")
        env[f"NOMAD_IP_{label}"] = ip
        env[f"NOMAD_HOST_PORT_{label}"] = str(value)
        env[f"NOMAD_HOST_IP_{label}"] = ip
        env[f"NOMAD_HOST_ADDR_{label}"] = f"{ip}:{value}"
        env[f"NOMAD_ADDR_{label}"] = f"{ip}:{value}"
        env[f"NOMAD_PORT_{label}"] = str(to if to > 0 else value)
        if to > 0:
            env[f"NOMAD_ALLOC_PORT_{label}"] = str(to)
    meta: dict[str, str] = {}
    for source in (job.get("Meta"), _group(job, group).get("Meta"), task.get("Meta")):
        meta.update({str(k): str(v) for k, v in (source or {}).items()})
    for key, text in meta.items():
        env[f"NOMAD_META_{_env_name(key)}"] = text
        env[f"NOMAD_META_{key}"] = text
    # The task's own env last, interpolated against everything above.
    for key, raw in (task.get("Env") or {}).items():
        env[str(key)] = interpolate(str(raw), env, node)
    return env


def _group(job: Obj, name: str) -> Obj:
    for tg in job.get("TaskGroups") or []:
        if tg.get("Name") == name:
            return dict(tg)
    return {}


def _env_name(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", label)


def interpolate(value: Any, env: dict[str, str], node: NodeView) -> Any:
    """`${NOMAD_PORT_http}`, `${attr.kernel.name}`, `${node.unique.id}`, `${meta.x}` and
    any variable of the task env, in strings, lists and maps; unknown references are kept
    as written, as Nomad keeps them."""
    if isinstance(value, str):

        def sub(m: re.Match[str]) -> str:
            key = m.group(1).strip()
            if key in env:
                return env[key]
            if key.startswith("env.") and key[4:] in env:
                return env[key[4:]]
            found = node.lookup(key)
            return found if found is not None else m.group(0)

        return _REF.sub(sub, value)
    if isinstance(value, list):
        return [interpolate(v, env, node) for v in value]
    if isinstance(value, dict):
        return {k: interpolate(v, env, node) for k, v in value.items()}
    return value

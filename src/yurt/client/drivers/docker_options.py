"""The docker driver's container options beyond the basics, from the task's `config` as
Nomad's docker driver reads them: `mount`, `ulimit`, `sysctl`, `shm_size`, `pids_limit`,
`devices`, `readonly_rootfs`, `init`, `security_opt`, `ipc_mode`, `pid_mode`, `uts_mode`.

Blocks in a job file arrive as lists of maps (`mount { ... }` twice is two entries); a
single map is taken as one entry too. Every option is checked here, so a mistake fails the
task with a message that names the option, rather than an error from the engine.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from docker.types import Mount, Ulimit

from yurt.client.drivers.base import DriverError

Obj = dict[str, Any]

_MOUNT_TYPES = ("bind", "volume", "tmpfs")
_PROPAGATION = ("rprivate", "private", "rshared", "shared", "rslave", "slave")


def _entries(value: Any, option: str) -> list[Obj]:
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(i, dict) for i in items):
        raise DriverError(f"{option}: expected a block or a list of maps", recoverable=False)
    return items


def _merged(value: Any, option: str) -> Obj:
    out: Obj = {}
    for entry in _entries(value, option):
        out.update(entry)
    return out


def _int(value: Any, option: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise DriverError(f"{option}: expected a number, got {value!r}", recoverable=False)
    try:
        number = int(value)
    except ValueError:
        raise DriverError(
            f"{option}: expected a number, got {value!r}", recoverable=False
        ) from None
    if number < 0:
        raise DriverError(f"{option}: must not be negative", recoverable=False)
    return number


def _ulimits(value: Any) -> list[Ulimit]:
    out = []
    for name, spec in _merged(value, "ulimit").items():
        soft, sep, hard = str(spec).partition(":")
        try:
            soft_n = int(soft)
            hard_n = int(hard) if sep else soft_n
        except ValueError:
            raise DriverError(
                f'ulimit {name}: expected "soft:hard" or one number, got {spec!r}',
                recoverable=False,
            ) from None
        if soft_n > hard_n:
            raise DriverError(f"ulimit {name}: soft limit above the hard one", recoverable=False)
        out.append(Ulimit(name=str(name), soft=soft_n, hard=hard_n))
    return out


def _mounts(value: Any, task_dir: Path, host_paths: bool) -> list[Mount]:
    out = []
    for i, m in enumerate(_entries(value, "mount")):
        where = f"mount[{i}]"
        kind = str(m.get("type") or "volume")
        if kind not in _MOUNT_TYPES:
            raise DriverError(
                f'{where}: type "{kind}": expected one of {", ".join(_MOUNT_TYPES)}',
                recoverable=False,
            )
        target = str(m.get("target") or "")
        if not target.startswith("/"):
            raise DriverError(f"{where}: target must be an absolute path", recoverable=False)
        source = str(m.get("source") or "")
        readonly = bool(m.get("readonly"))
        if kind == "bind":
            if not source:
                raise DriverError(f"{where}: a bind mount needs a source", recoverable=False)
            if not source.startswith("/"):
                source = str(task_dir / source)
            elif not host_paths:
                raise DriverError(
                    f"{where}: host paths outside the task dir need docker volumes enabled",
                    recoverable=False,
                )
            opts = _merged(m.get("bind_options"), f"{where}.bind_options")
            propagation = opts.get("propagation")
            if propagation is not None and propagation not in _PROPAGATION:
                raise DriverError(
                    f'{where}: propagation "{propagation}": expected one of '
                    + ", ".join(_PROPAGATION),
                    recoverable=False,
                )
            out.append(
                Mount(target, source, type="bind", read_only=readonly, propagation=propagation)
            )
        elif kind == "tmpfs":
            opts = _merged(m.get("tmpfs_options"), f"{where}.tmpfs_options")
            size = _int(opts["size"], f"{where}.tmpfs_options.size") if "size" in opts else None
            mode = int(str(opts["mode"]), 8) if "mode" in opts else None
            out.append(
                Mount(
                    target, None, type="tmpfs", read_only=readonly, tmpfs_size=size, tmpfs_mode=mode
                )
            )
        else:
            if not source:
                raise DriverError(f"{where}: a volume mount needs a source", recoverable=False)
            if not host_paths:
                raise DriverError(
                    f"{where}: named volumes need docker volumes enabled", recoverable=False
                )
            opts = _merged(m.get("volume_options"), f"{where}.volume_options")
            labels = _merged(opts.get("labels"), f"{where}.volume_options.labels")
            volume_labels = {str(k): str(v) for k, v in labels.items()} or None
            out.append(
                Mount(
                    target,
                    source,
                    type="volume",
                    read_only=readonly,
                    no_copy=bool(opts.get("no_copy")),
                    labels=volume_labels,
                )
            )
    return out


def _devices(value: Any) -> list[str]:
    out = []
    for i, d in enumerate(_entries(value, "devices")):
        host = str(d.get("host_path") or "")
        if not host.startswith("/"):
            raise DriverError(f"devices[{i}]: host_path must be absolute", recoverable=False)
        container = str(d.get("container_path") or host)
        perms = str(d.get("cgroup_permissions") or "rwm")
        if not perms or set(perms) - set("rwm"):
            raise DriverError(
                f'devices[{i}]: cgroup_permissions "{perms}": use r, w and m', recoverable=False
            )
        out.append(f"{host}:{container}:{perms}")
    return out


_STRING_OPTIONS: dict[str, str] = {
    "ipc_mode": "ipc_mode",
    "pid_mode": "pid_mode",
    "uts_mode": "uts_mode",
}


def extra_host_config(cfg: Obj, task_dir: Path, host_paths: bool) -> Obj:
    """The docker-py `create_host_config` arguments these options ask for."""
    hc: Obj = {}
    converters: dict[str, tuple[str, Callable[[Any], Any]]] = {
        "ulimit": ("ulimits", _ulimits),
        "mount": ("mounts", lambda v: _mounts(v, task_dir, host_paths)),
        "devices": ("devices", _devices),
        "shm_size": ("shm_size", lambda v: _int(v, "shm_size")),
        "pids_limit": ("pids_limit", lambda v: _int(v, "pids_limit")),
        "sysctl": (
            "sysctls",
            lambda v: {str(k): str(x) for k, x in _merged(v, "sysctl").items()},
        ),
        "readonly_rootfs": ("read_only", bool),
        "init": ("init", bool),
        "security_opt": ("security_opt", lambda v: [str(x) for x in v]),
    }
    for option, (arg, convert) in converters.items():
        if cfg.get(option) not in (None, [], {}):
            hc[arg] = convert(cfg[option])
    for option, arg in _STRING_OPTIONS.items():
        if cfg.get(option):
            hc[arg] = str(cfg[option])
    return hc

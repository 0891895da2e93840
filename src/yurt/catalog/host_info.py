"""`/v1/agent/host`: the machine the agent runs on, in the shape Consul answers (gopsutil's
`Memory`, `CPU`, `Host` and `Disk` records, field names in lowerCamelCase as gopsutil's
JSON tags), read from /proc and the standard library. What cannot be read is left zero
and said in `Errors`, as Consul collects what it can.
"""

from __future__ import annotations

import os
import platform
import shutil
import socket
import time
from pathlib import Path
from typing import Any


def _meminfo(text: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            out[key] = int(parts[0]) * (1024 if len(parts) > 1 else 1)
    return out


def memory(meminfo_text: str) -> dict[str, Any]:
    m = _meminfo(meminfo_text)
    total = m.get("MemTotal", 0)
    available = m.get("MemAvailable", 0)
    free = m.get("MemFree", 0)
    buffers = m.get("Buffers", 0)
    cached = m.get("Cached", 0) + m.get("SReclaimable", 0)
    used = max(total - free - buffers - cached, 0)
    return {
        "total": total,
        "available": available,
        "used": used,
        "usedPercent": (used / total * 100) if total else 0.0,
        "free": free,
        "active": m.get("Active", 0),
        "inactive": m.get("Inactive", 0),
        "buffers": buffers,
        "cached": cached,
        "dirty": m.get("Dirty", 0),
        "shared": m.get("Shmem", 0),
        "slab": m.get("Slab", 0),
        "swapTotal": m.get("SwapTotal", 0),
        "swapFree": m.get("SwapFree", 0),
    }


def cpus(cpuinfo_text: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for block in cpuinfo_text.strip().split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            key, _, value = line.partition(":")
            fields[key.strip()] = value.strip()
        if "processor" not in fields:
            continue
        out.append(
            {
                "cpu": int(fields["processor"]),
                "vendorId": fields.get("vendor_id", ""),
                "family": fields.get("cpu family", ""),
                "model": fields.get("model", ""),
                "stepping": int(fields.get("stepping", "0") or 0),
                "physicalId": fields.get("physical id", ""),
                "coreId": fields.get("core id", ""),
                "cores": 1,
                "modelName": fields.get("model name", ""),
                "mhz": float(fields.get("cpu MHz", "0") or 0),
                "cacheSize": int((fields.get("cache size", "0").split() or ["0"])[0]),
                "flags": fields.get("flags", "").split(),
                "microcode": fields.get("microcode", ""),
            }
        )
    return out


def _read(path: str, errors: list[str]) -> str:
    try:
        return Path(path).read_text()
    except OSError as exc:
        errors.append(f"{path}: {exc.strerror or exc}")
        return ""


def collect(data_dir: str) -> dict[str, Any]:
    """The whole answer, read now."""
    errors: list[str] = []
    uptime_text = _read("/proc/uptime", errors)
    uptime = int(float(uptime_text.split()[0])) if uptime_text else 0
    uname = platform.uname()
    os_release = (
        platform.freedesktop_os_release() if hasattr(platform, "freedesktop_os_release") else {}
    )
    host = {
        "hostname": socket.gethostname(),
        "uptime": uptime,
        "bootTime": int(time.time()) - uptime,
        "procs": sum(1 for p in os.listdir("/proc") if p.isdigit())
        if os.path.isdir("/proc")
        else 0,
        "os": uname.system.lower(),
        "platform": os_release.get("ID", ""),
        "platformFamily": os_release.get("ID_LIKE", os_release.get("ID", "")),
        "platformVersion": os_release.get("VERSION_ID", ""),
        "kernelVersion": uname.release,
        "kernelArch": uname.machine,
        "virtualizationSystem": "",
        "virtualizationRole": "",
        "hostId": _read("/etc/machine-id", []).strip(),
    }
    path = data_dir if os.path.isdir(data_dir) else "/"
    try:
        usage = shutil.disk_usage(path)
        st = os.statvfs(path)
        disk = {
            "path": path,
            "fstype": "",
            "total": usage.total,
            "free": usage.free,
            "used": usage.used,
            "usedPercent": usage.used / usage.total * 100 if usage.total else 0.0,
            "inodesTotal": st.f_files,
            "inodesUsed": st.f_files - st.f_ffree,
            "inodesFree": st.f_ffree,
            "inodesUsedPercent": (st.f_files - st.f_ffree) / st.f_files * 100
            if st.f_files
            else 0.0,
        }
    except OSError as exc:
        errors.append(f"{path}: {exc.strerror or exc}")
        disk = {"path": path}
    return {
        "Memory": memory(_read("/proc/meminfo", errors)),
        "CPU": cpus(_read("/proc/cpuinfo", errors)),
        "Host": host,
        "Disk": disk,
        "CollectionTime": time.time_ns(),
        "Errors": errors or None,
    }

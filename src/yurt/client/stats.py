"""Resource usage from /proc, shaped as Nomad's HostStats and AllocResourceUsage."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

from yurt.client.fingerprint import memory_total_bytes

Obj = dict[str, Any]
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_BOOT = time.time() - float(Path("/proc/uptime").read_text().split()[0])


def _proc_cpu_ticks(pid: int) -> tuple[int, int]:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]), int(fields[12])
    except (OSError, IndexError, ValueError):
        return 0, 0


def _proc_rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


class UsageSampler:
    """CPU percentages need two samples: the previous one is kept per key."""

    def __init__(self) -> None:
        self._last: dict[str, tuple[float, float]] = {}

    def task_usage(self, key: str, pids: list[int]) -> Obj:
        user = system = 0
        rss = 0
        for pid in pids:
            u, s = _proc_cpu_ticks(pid)
            user += u
            system += s
            rss += _proc_rss(pid)
        now = time.monotonic()
        total_s = (user + system) / _TICK
        prev = self._last.get(key)
        self._last[key] = (now, total_s)
        percent = 0.0
        if prev is not None and now > prev[0]:
            percent = max(total_s - prev[1], 0.0) / (now - prev[0]) * 100
        mhz = 1000.0
        return {
            "MemoryStats": {
                "RSS": rss,
                "Cache": 0,
                "Swap": 0,
                "MappedFile": 0,
                "Usage": rss,
                "MaxUsage": 0,
                "KernelUsage": 0,
                "KernelMaxUsage": 0,
                "Measured": ["RSS"],
            },
            "CpuStats": {
                "SystemMode": system / _TICK * 100,
                "UserMode": user / _TICK * 100,
                "TotalTicks": percent / 100 * mhz,
                "ThrottledPeriods": 0,
                "ThrottledTime": 0,
                "Percent": percent,
                "Measured": ["System Mode", "User Mode", "Percent"],
            },
            "DeviceStats": None,
        }

    def host(self, data_dir: Path) -> Obj:
        mem: dict[str, int] = {}
        for line in Path("/proc/meminfo").read_text().splitlines():
            key, _, rest = line.partition(":")
            parts = rest.split()
            if parts:
                mem[key] = int(parts[0]) * 1024
        total = memory_total_bytes()
        cpus: list[dict[str, Any]] = []
        now = time.monotonic()
        for line in Path("/proc/stat").read_text().splitlines():
            if not line.startswith("cpu") or line.startswith("cpu "):
                continue
            name, *vals = line.split()
            ticks = [int(v) for v in vals[:8]]
            busy_user, busy_sys, _idle = ticks[0] + ticks[1], ticks[2], ticks[3] + ticks[4]
            total_ticks = sum(ticks)
            prev = self._last.get(name)
            prev_sys = self._last.get(name + ":sys")
            prev_user = self._last.get(name + ":user")
            self._last[name] = (now, float(total_ticks))
            self._last[name + ":sys"] = (now, float(busy_sys))
            self._last[name + ":user"] = (now, float(busy_user))
            if prev and prev_sys and prev_user and total_ticks > prev[1]:
                span = total_ticks - prev[1]
                user_p = (busy_user - prev_user[1]) / span * 100
                sys_p = (busy_sys - prev_sys[1]) / span * 100
            else:
                user_p = busy_user / max(total_ticks, 1) * 100
                sys_p = busy_sys / max(total_ticks, 1) * 100
            idle_p = max(100.0 - user_p - sys_p, 0.0)
            cpus.append(
                {
                    "CPU": name,
                    "User": user_p,
                    "System": sys_p,
                    "Idle": idle_p,
                    "Total": user_p + sys_p,
                }
            )
        disk = shutil.disk_usage(data_dir)
        disk_stats = {
            "Device": "",
            "Mountpoint": str(data_dir),
            "Size": disk.total,
            "Used": disk.used,
            "Available": disk.free,
            "UsedPercent": disk.used / disk.total * 100 if disk.total else 0.0,
            "InodesUsedPercent": 0.0,
        }
        return {
            "Memory": {
                "Total": total,
                "Available": mem.get("MemAvailable", 0),
                "Used": total - mem.get("MemAvailable", 0),
                "Free": mem.get("MemFree", 0),
            },
            "CPU": cpus,
            "DiskStats": [disk_stats],
            "AllocDirStats": disk_stats,
            "DeviceStats": [],
            "Uptime": int(time.time() - _BOOT),
            "Timestamp": time.time_ns(),
            "CPUTicksConsumed": sum(c["Total"] for c in cpus) / 100 * 1000,
        }

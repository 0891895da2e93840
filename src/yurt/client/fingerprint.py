"""What the node is: Nomad's fingerprint attributes and resources, read from the host."""

from __future__ import annotations

import os
import platform
import shutil
import socket
from pathlib import Path

NOMAD_VERSION = "1.7.7"
_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}


def _os_release() -> dict[str, str]:
    out: dict[str, str] = {}
    try:
        text = Path("/etc/os-release").read_text()
    except OSError:
        return out
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip()] = value.strip().strip('"')
    return out


def _cpu_mhz() -> int:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("cpu MHz"):
                return int(float(line.split(":", 1)[1]))
    except (OSError, ValueError):
        pass
    return 1000  # what Nomad assumes when the frequency cannot be read


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_total_bytes() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 1024 * 1024 * 1024


def primary_ip() -> str:
    """The address of the interface holding the default route (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.254.254.254", 1))
            return str(s.getsockname()[0])
        except OSError:
            return "127.0.0.1"


def host_attributes(data_dir: Path) -> dict[str, str]:
    release = _os_release()
    cores = os.cpu_count() or 1
    mhz = _cpu_mhz()
    disk = shutil.disk_usage(data_dir if data_dir.exists() else Path("/"))
    return {
        "unique.hostname": socket.gethostname(),
        "kernel.name": platform.system().lower(),
        "kernel.version": platform.release(),
        "kernel.arch": platform.machine(),
        "os.name": release.get("ID", platform.system().lower()),
        "os.version": release.get("VERSION_ID", ""),
        "cpu.arch": _ARCH.get(platform.machine(), platform.machine()),
        "cpu.numcores": str(cores),
        "cpu.frequency": str(mhz),
        "cpu.totalcompute": str(cores * mhz),
        "cpu.modelname": _cpu_model(),
        "memory.totalbytes": str(memory_total_bytes()),
        "unique.network.ip-address": primary_ip(),
        "unique.storage.volume": str(data_dir),
        "unique.storage.bytestotal": str(disk.total),
        "unique.storage.bytesfree": str(disk.free),
        "nomad.version": NOMAD_VERSION,
        "nomad.revision": "yurt",
    }

"""What the node is: Nomad's fingerprint attributes and resources, read from the host,
and the address its allocations get (Nomad's network fingerprint)."""

from __future__ import annotations

import fcntl
import ipaddress
import os
import platform
import shutil
import socket
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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


# The network fingerprint -------------------------------------------------------------

LOOPBACK_IP = "127.0.0.1"
_SIOCGIFADDR = 0x8915


class NetworkError(ValueError):
    """`network_interface` names an interface the host does not have, or one without an IP."""


@dataclass(frozen=True, slots=True)
class NodeNetwork:
    """The node's one host network: where its ports are allocated and services advertise."""

    device: str
    ip: str

    @property
    def cidr(self) -> str:
        return f"{self.ip}/{ipaddress.ip_address(self.ip).max_prefixlen}"


def choose_network(
    interface: str, addresses: Mapping[str, Sequence[str]], default_interface: str
) -> NodeNetwork:
    """Nomad's choice: the `network_interface` named (an error if it is missing or has no
    address), else the interface of the default route, else loopback.

    `addresses` maps every interface to its addresses, IPv4 first; the first one is taken.
    An empty `default_interface` (no default route, or dev mode) means loopback.
    """
    if interface:
        if interface not in addresses:
            raise NetworkError(
                f"error while detecting network interface {interface!r} during "
                "fingerprinting: no such network interface"
            )
        ips = addresses[interface]
        if not ips:
            raise NetworkError(f"network interface {interface!r} has no IP address")
        return NodeNetwork(interface, ips[0])
    if default_interface and addresses.get(default_interface):
        return NodeNetwork(default_interface, addresses[default_interface][0])
    device = next((n for n, ips in addresses.items() if LOOPBACK_IP in ips), "lo")
    return NodeNetwork(device, LOOPBACK_IP)


def device_of(ip: str, addresses: Mapping[str, Sequence[str]]) -> str:
    """The interface holding `ip`, "" if none does (an address given by hand)."""
    return next((n for n, ips in addresses.items() if ip in ips), "")


def _ipv4_of(name: str) -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            packed = fcntl.ioctl(s.fileno(), _SIOCGIFADDR, struct.pack("256s", name.encode()[:15]))
        except OSError:
            return ""
    return socket.inet_ntoa(packed[20:24])


def _ipv6_by_interface() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    try:
        lines = Path("/proc/net/if_inet6").read_text().splitlines()
    except OSError:
        return out
    for line in lines:
        fields = line.split()
        if len(fields) != 6 or fields[3] not in ("00", "10"):  # global or host scope only
            continue
        ip = ipaddress.IPv6Address(bytes.fromhex(fields[0]))
        out.setdefault(fields[5], []).append(str(ip))
    return out


def host_addresses() -> dict[str, list[str]]:
    """Every interface of the host with its addresses: its IPv4 one, then global IPv6."""
    v6 = _ipv6_by_interface()
    out: dict[str, list[str]] = {}
    for _, name in socket.if_nameindex():
        v4 = _ipv4_of(name)
        out[name] = ([v4] if v4 else []) + v6.get(name, [])
    return out


def default_route_in(route_table: str) -> str:
    """The interface of the first default route (destination and mask 0, RTF_UP) in the
    text of /proc/net/route, "" without one."""
    for line in route_table.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 8 or fields[1] != "00000000" or fields[7] != "00000000":
            continue
        try:
            up = int(fields[3], 16) & 1
        except ValueError:
            continue
        if up:
            return fields[0]
    return ""


def default_route_interface() -> str:
    """The interface of the host's IPv4 default route, "" without one."""
    try:
        return default_route_in(Path("/proc/net/route").read_text())
    except OSError:
        return ""


def node_network(interface: str = "", *, ip: str = "", dev: bool = False) -> NodeNetwork:
    """The node's network read from the host: an `ip` given by hand wins; then
    `network_interface`; dev mode (as `nomad agent -dev`) stays on loopback; else the
    default route's interface, else loopback."""
    addresses = host_addresses()
    if ip:
        return NodeNetwork(device_of(ip, addresses), ip)
    default = "" if dev else default_route_interface()
    return choose_network(interface, addresses, default)

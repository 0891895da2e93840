"""A second host for tests: a Linux network namespace joined to this one by a veth pair.

Needs root (`ip netns`, `ip link`). The namespace has loopback, its end of the pair and a
default route back through this host, nothing else; this host gets only its end of the
pair, an address on a /24 picked per test process, and no route beyond that subnet.
Everything is removed on exit, the namespace first (which takes its end of the pair along).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

_seq = itertools.count()


@dataclass(frozen=True)
class Peer:
    """The namespace `name`, reached at `ip`; this host is `host_ip` on the same link."""

    name: str
    ip: str
    host_ip: str
    device: str  # the namespace's end of the pair

    @property
    def exec_prefix(self) -> list[str]:
        """What runs a command inside the namespace."""
        return ["ip", "netns", "exec", self.name]


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=30)


@contextlib.contextmanager
def peer_host() -> Iterator[Peer]:
    n = next(_seq)
    tag = f"{os.getpid() % 100000}{n}"
    # A subnet of 10.218.0.0/16 per process and call, away from the usual private ranges.
    third = (os.getpid() * 7 + n) % 250 + 1
    ns, here, there = f"yurt-peer-{tag}", f"yh{tag}a"[:15], f"yh{tag}b"[:15]
    peer = Peer(ns, f"10.218.{third}.2", f"10.218.{third}.1", there)
    _ip("netns", "add", ns)
    try:
        _ip("link", "add", here, "type", "veth", "peer", "name", there, "netns", ns)
        _ip("addr", "add", f"{peer.host_ip}/24", "dev", here)
        _ip("link", "set", here, "up")
        inside = ("-n", ns)
        _ip(*inside, "link", "set", "lo", "up")
        _ip(*inside, "addr", "add", f"{peer.ip}/24", "dev", there)
        _ip(*inside, "link", "set", there, "up")
        _ip(*inside, "route", "add", "default", "via", peer.host_ip, "dev", there)
        yield peer
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True, timeout=30)
        subprocess.run(["ip", "link", "del", here], check=False, capture_output=True, timeout=30)

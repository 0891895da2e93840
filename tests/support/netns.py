"""Other hosts for tests: Linux network namespaces joined to this one by veth pairs.

`peer_host()` makes one, on a pair of its own; `lan(n)` makes n on one bridge (a switch), so
they reach each other and this host directly, each at its own address.

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


def _ip_quiet(*args: str) -> None:
    """Cleanup: what is already gone is fine."""
    subprocess.run(["ip", *args], check=False, capture_output=True, timeout=30)


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


@contextlib.contextmanager
def lan(count: int) -> Iterator[list[Peer]]:
    """`count` hosts on one bridge: host i is `10.219.S.(i+2)`, this host `10.219.S.1` (the
    bridge's address, each host's default route). `Peer.device` is the host's end of its
    pair: setting it down cuts that host off from every other."""
    n = next(_seq)
    tag = f"{os.getpid() % 100000}{n}"
    third = (os.getpid() * 7 + n) % 250 + 1  # a subnet of 10.219.0.0/16 per process and call
    bridge, gateway = f"yb{tag}"[:15], f"10.219.{third}.1"
    made: list[tuple[str, str]] = []  # (namespace, this host's end of its pair)
    try:
        _ip("link", "add", bridge, "type", "bridge")
        _ip("addr", "add", f"{gateway}/24", "dev", bridge)
        _ip("link", "set", bridge, "up")
        peers = []
        for i in range(count):
            ns, here, there = f"yurt-lan-{tag}-{i}", f"yl{tag}h{i}"[:15], f"yl{tag}n{i}"[:15]
            _ip("netns", "add", ns)
            made.append((ns, here))
            _ip("link", "add", here, "type", "veth", "peer", "name", there, "netns", ns)
            _ip("link", "set", here, "master", bridge)
            _ip("link", "set", here, "up")
            peer = Peer(ns, f"10.219.{third}.{i + 2}", gateway, there)
            inside = ("-n", ns)
            _ip(*inside, "link", "set", "lo", "up")
            _ip(*inside, "addr", "add", f"{peer.ip}/24", "dev", there)
            _ip(*inside, "link", "set", there, "up")
            _ip(*inside, "route", "add", "default", "via", gateway, "dev", there)
            peers.append(peer)
        yield peers
    finally:
        for ns, here in made:
            _ip_quiet("netns", "del", ns)
            _ip_quiet("link", "del", here)
        _ip_quiet("link", "del", bridge)

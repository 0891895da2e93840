"""The node's network as Nomad's network fingerprint chooses it: `network_interface`, else
the default route's interface, else loopback (pure, tested by tables), and the host readers
it is fed from."""

from __future__ import annotations

import pytest

from yurt.client.fingerprint import (
    NetworkError,
    NodeNetwork,
    choose_network,
    default_route_in,
    device_of,
    host_addresses,
    node_network,
)

HOST = {
    "lo": ["127.0.0.1", "::1"],
    "eth0": ["192.0.2.2", "fd00::2"],
    "eth1": ["10.1.0.7"],
    "v6only": ["fd00::9"],
    "down0": [],
}


@pytest.mark.parametrize(
    ("interface", "addresses", "default", "want"),
    [
        # network_interface wins over the default route.
        ("eth1", HOST, "eth0", NodeNetwork("eth1", "10.1.0.7")),
        ("lo", HOST, "eth0", NodeNetwork("lo", "127.0.0.1")),
        # its first address: IPv4 before IPv6, an IPv6-only interface gives its IPv6 one.
        ("eth0", HOST, "", NodeNetwork("eth0", "192.0.2.2")),
        ("v6only", HOST, "eth0", NodeNetwork("v6only", "fd00::9")),
        # no network_interface: the default route's interface.
        ("", HOST, "eth0", NodeNetwork("eth0", "192.0.2.2")),
        ("", HOST, "eth1", NodeNetwork("eth1", "10.1.0.7")),
        # no default route (or dev mode), or one on an interface without an address: loopback.
        ("", HOST, "", NodeNetwork("lo", "127.0.0.1")),
        ("", HOST, "down0", NodeNetwork("lo", "127.0.0.1")),
        ("", {"lo0": ["127.0.0.1"], "em0": ["10.0.0.1"]}, "", NodeNetwork("lo0", "127.0.0.1")),
        ("", {}, "", NodeNetwork("lo", "127.0.0.1")),
    ],
)
def test_choose_network(
    interface: str, addresses: dict[str, list[str]], default: str, want: NodeNetwork
) -> None:
    assert choose_network(interface, addresses, default) == want


@pytest.mark.parametrize(
    ("interface", "message"),
    [
        ("eth9", "error while detecting network interface 'eth9' during fingerprinting: no such"),
        ("down0", "network interface 'down0' has no IP address"),
    ],
)
def test_choose_network_errors(interface: str, message: str) -> None:
    with pytest.raises(NetworkError, match=message):
        choose_network(interface, HOST, "eth0")


@pytest.mark.parametrize(
    ("network", "cidr"),
    [
        (NodeNetwork("eth0", "10.0.0.2"), "10.0.0.2/32"),
        (NodeNetwork("v6", "fd00::9"), "fd00::9/128"),
    ],
)
def test_cidr(network: NodeNetwork, cidr: str) -> None:
    assert network.cidr == cidr


ROUTE_HEADER = (
    "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
)


@pytest.mark.parametrize(
    ("rows", "want"),
    [
        (["eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0"], "eth0"),
        (
            [
                "eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0",
                "veth1\t00000000\t0100DA0A\t0003\t0\t0\t0\t00000000\t0\t0\t0",
            ],
            "veth1",
        ),
        # a default route that is not up, then one that is
        (
            [
                "tun0\t00000000\t00000000\t0000\t0\t0\t0\t00000000\t0\t0\t0",
                "eth1\t00000000\t00000000\t0001\t0\t0\t0\t00000000\t0\t0\t0",
            ],
            "eth1",
        ),
        # only subnet routes, a 0.0.0.0 destination with a mask, a short line: no default
        (["eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0"], ""),
        (["eth0\t00000000\t00000000\t0001\t0\t0\t0\t000000FF\t0\t0\t0"], ""),
        (["eth0\t00000000"], ""),
        ([], ""),
    ],
)
def test_default_route_in(rows: list[str], want: str) -> None:
    assert default_route_in(ROUTE_HEADER + "\n".join(rows)) == want


def test_host_readers_see_loopback() -> None:
    addresses = host_addresses()
    assert "127.0.0.1" in addresses["lo"]
    assert device_of("127.0.0.1", addresses) == "lo"
    assert device_of("203.0.113.77", addresses) == ""
    # Dev mode stays on loopback whatever the host's routes; a hand-given IP is kept as is.
    assert node_network(dev=True) == NodeNetwork("lo", "127.0.0.1")
    assert node_network("lo") == NodeNetwork("lo", "127.0.0.1")
    assert node_network(ip="203.0.113.77") == NodeNetwork("", "203.0.113.77")
    with pytest.raises(NetworkError):
        node_network("no-such-if0")

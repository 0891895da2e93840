"""Back-pressure across a relay: when one side cannot write, its peer is not read until it
drains; one rule for the HTTP data path (both directions) and the TCP proxy."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from yurt.router.backpressure import Relay
from yurt.router.proxy import HTTPProxy, ProxySettings
from yurt.router.tcp import _Client, _Upstream
from yurt.router.upstream import UpstreamProtocol


class Reading(asyncio.Transport):
    """A transport that records whether it is being read."""

    def __init__(self) -> None:
        super().__init__()
        self.reading = True

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def is_closing(self) -> bool:
        return False

    def get_extra_info(self, name: str, default: object = None) -> object:
        return ("127.0.0.1", 50000) if name == "peername" else default


# (client side, its transport, upstream side, its transport)
Pair = tuple[Relay, "Reading", Relay, "Reading"]


def http_pair() -> Pair:
    proxy = HTTPProxy(ProxySettings())
    client = proxy.protocol()
    ct = Reading()
    client.connection_made(ct)
    up = UpstreamProtocol(proxy.pool, "127.0.0.1:8080")
    ut = Reading()
    up.connection_made(ut)
    up.client = client
    client.upstream = up
    return client, ct, up, ut


def tcp_pair() -> Pair:
    client = _Client(ProxySettings(), ":1234")
    ct = Reading()
    client.transport = ct
    up = _Upstream(client)
    ut = Reading()
    up.connection_made(ut)
    client.upstream = up
    return client, ct, up, ut


@pytest.mark.parametrize("pair", [http_pair, tcp_pair], ids=["http", "tcp"])
def test_a_side_that_cannot_write_stops_its_peer(pair: Callable[[], Pair]) -> None:
    client, ct, up, ut = pair()
    client.pause_writing()  # the client is slow: the upstream is not read
    assert (ct.reading, ut.reading) == (True, False)
    client.resume_writing()
    assert ut.reading
    up.pause_writing()  # the upstream is slow: the client is not read
    assert (ct.reading, ut.reading) == (False, True)
    up.resume_writing()
    assert ct.reading


def test_no_peer_yet_is_no_error() -> None:
    proxy = HTTPProxy(ProxySettings())
    client = proxy.protocol()
    client.pause_writing()
    client.resume_writing()
    assert client.peer_transport() is None

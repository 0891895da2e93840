"""Back-pressure between the two sides of a relayed connection: when one side's transport
buffer fills up (asyncio calls `pause_writing`), the other side is not read until it has
drained (`resume_writing`). One base class for the HTTP data path and the TCP proxy.
"""

from __future__ import annotations

import asyncio


class Relay(asyncio.Protocol):
    """A protocol that relays to a peer: `peer_transport()` names the peer's transport
    (None while there is none), which stops being read while this side cannot write."""

    __slots__ = ()

    def peer_transport(self) -> asyncio.Transport | None:
        raise NotImplementedError

    def pause_writing(self) -> None:
        peer = self.peer_transport()
        if peer is not None:
            peer.pause_reading()

    def resume_writing(self) -> None:
        peer = self.peer_transport()
        if peer is not None:
            peer.resume_reading()

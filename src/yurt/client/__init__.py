"""The Nomad-compatible client: a node that registers with the scheduler, runs its
allocations' tasks with real drivers (raw_exec, exec, docker), reports their status and
registers their services in the catalog through Consul's HTTP API.

`ClientAgent` and `ClientConfig` load lazily, so that the client's modules import alone."""

from __future__ import annotations

from typing import TYPE_CHECKING

from yurt import lazy

if TYPE_CHECKING:
    from yurt.client.agent import ClientAgent
    from yurt.client.config import ClientConfig

_EXPORTS = {"ClientAgent": "yurt.client.agent", "ClientConfig": "yurt.client.config"}

__all__ = ["ClientAgent", "ClientConfig"]


def __getattr__(name: str) -> object:
    return lazy.load(__name__, _EXPORTS, name)

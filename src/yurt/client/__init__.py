"""The Nomad-compatible client: a node that registers with the scheduler, runs its
allocations' tasks with real drivers (raw_exec, exec, docker), reports their status and
registers their services in the catalog through Consul's HTTP API."""

from yurt.client.agent import ClientAgent
from yurt.client.config import ClientConfig

__all__ = ["ClientAgent", "ClientConfig"]

"""The catalog: what a Consul agent in server mode does for this stack, behind Consul's
HTTP API (agent, catalog, health, KV, status) with blocking queries."""

from yurt.catalog.config import CatalogConfig
from yurt.catalog.server import CatalogServer

__all__ = ["CatalogConfig", "CatalogServer"]

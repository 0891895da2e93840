"""The catalog: what a Consul agent in server mode does for this stack, behind Consul's
HTTP API (agent, catalog, health, KV, status) with blocking queries.

`CatalogConfig` and `CatalogServer` load lazily, so that the catalog's pure modules import
without its server."""

from __future__ import annotations

from typing import TYPE_CHECKING

from yurt import lazy

if TYPE_CHECKING:
    from yurt.catalog.config import CatalogConfig
    from yurt.catalog.server import CatalogServer

_EXPORTS = {"CatalogConfig": "yurt.catalog.config", "CatalogServer": "yurt.catalog.server"}

__all__ = ["CatalogConfig", "CatalogServer"]


def __getattr__(name: str) -> object:
    return lazy.load(__name__, _EXPORTS, name)

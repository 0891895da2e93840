"""The router's read of every routed service (the net for changes no answer shows): a
services change that comes while one is under way gets a read of its own."""

from __future__ import annotations

from typing import Any

from yurt.router.config import RouterConfig
from yurt.router.watcher import FULL_READ_PART, CatalogWatcher

SERVICES = FULL_READ_PART + 44  # two parts


class Catalog:
    """`ConsulClient.get` of `/v1/catalog/service/:name`: one instance each."""

    def __init__(self) -> None:
        self.reads: list[str] = []

    async def get(self, path: str) -> tuple[Any, int]:
        name = path.rsplit("/", 1)[1]
        self.reads.append(name)
        entry = {
            "Node": "n1",
            "Address": "10.0.0.1",
            "ServiceID": name,
            "ServiceName": name,
            "ServiceTags": [f"urlprefix-/{name}"],
            "ServiceAddress": "10.0.0.1",
            "ServicePort": 80,
        }
        return [entry], 1


async def test_a_change_during_a_read_of_every_service_is_read_again_after_it() -> None:
    catalog = Catalog()
    watcher = CatalogWatcher(catalog, RouterConfig(), lambda t: None, lambda b: None)  # type: ignore[arg-type]
    watcher.builder.set_services({f"s{i:03d}": [f"urlprefix-/s{i:03d}"] for i in range(SERVICES)})
    watcher.builder.set_checks([])
    await watcher.rebuild()  # every service read once, as at start
    catalog.reads.clear()

    watcher._full_read_due = True  # the services answer moved, long ago
    await watcher.rebuild()
    assert len(catalog.reads) == FULL_READ_PART and watcher._dirty.is_set()
    watcher._dirty.clear()
    # it moves again while the read is under way
    watcher._full_read_due = True
    watcher._services_changed_at = watcher._first_unread_change = 0.0
    await watcher.rebuild()
    assert len(catalog.reads) == SERVICES  # the first read is done
    assert watcher._dirty.is_set()  # and the next build looks at the change that came
    watcher._dirty.clear()
    watcher._next_full_read = 0.0  # (not a tenth of the time later, for the test)
    await watcher.rebuild()
    assert len(catalog.reads) == SERVICES + FULL_READ_PART  # the change's own read began

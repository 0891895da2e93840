"""Values many catalog records hold alike, kept once in memory.

At 30,000 instances every byte a record holds costs 30 KB, and most of what an instance
holds is the same as its neighbours': the empty `Meta`, `TaggedAddresses`, `Proxy` and
`Connect` of a typical service, the default `Weights`, the empty `Definition` of a check
registered through `/v1/catalog/register`, the node and service names, the tags its sibling
instances and its checks carry, "passing". The store passes each record it keeps through
`share_service`, `share_check` or `share_node`, which put these shared objects (and interned
strings) in place of the record's own equal copies. The answers do not change: every value
is equal to the one it replaces.

A value shared by many records must never change in place, or every record holding it would
change: shared containers are `FrozenDict` and `FrozenList`, which refuse it loudly (code that
changes a record assigns a new value, as the store does).
"""

from __future__ import annotations

import sys
from typing import Any, NoReturn, TypeVar

from yurt.catalog.model import DEFAULT_WEIGHTS, Check, CheckDefinition, Node, Service

K = TypeVar("K")
V = TypeVar("V")
T = TypeVar("T")


def _refuse(self: object, *args: Any, **kwargs: Any) -> NoReturn:
    raise TypeError(f"a shared {type(self).__name__} is read-only: assign a new value instead")


class FrozenDict(dict[K, V]):
    """A dict that refuses changes in place (it may be held by many records)."""

    __setitem__ = __delitem__ = _refuse
    clear = pop = popitem = setdefault = update = __ior__ = _refuse

    def __reduce__(self) -> tuple[Any, ...]:
        # copy/pickle rebuild from a plain copy (the default would set items one by one)
        return (type(self), (dict(self),))


class FrozenList(list[T]):
    """A list that refuses changes in place (it may be held by many records)."""

    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse
    append = extend = insert = pop = remove = clear = sort = reverse = _refuse

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (list(self),))


EMPTY_DICT: FrozenDict[Any, Any] = FrozenDict()
EMPTY_LIST: FrozenList[Any] = FrozenList()
SHARED_WEIGHTS: FrozenDict[str, int] = FrozenDict(DEFAULT_WEIGHTS)
# the definition of every check the agent does not run (catalog-registered, serfHealth)
EMPTY_DEFINITION = CheckDefinition(header=EMPTY_DICT, args=EMPTY_LIST)
_PLAIN_DEFINITION = CheckDefinition()


def intern(text: str) -> str:
    """One string object for equal texts (names, addresses, statuses repeat a lot)."""
    return sys.intern(text) if type(text) is str else text


def _dict(value: dict[K, V]) -> dict[K, V]:
    return value if value else EMPTY_DICT


def _tags(tags: list[str], like: list[str] | None) -> list[str]:
    """`tags` as a shared list: `like` (a sibling's) when equal, else a frozen copy."""
    if like is not None and like == tags:
        return like
    if isinstance(tags, FrozenList):
        return tags
    return FrozenList(intern(t) for t in tags) if tags else EMPTY_LIST


def share_node(node: Node) -> None:
    node.name = intern(node.name)
    node.address = intern(node.address)
    node.datacenter = intern(node.datacenter)
    node.tagged_addresses = _dict(node.tagged_addresses)
    node.meta = _dict(node.meta)


def share_service(svc: Service, sibling: Service | None) -> None:
    """`svc` holding shared values; `sibling`: an instance of the same name already kept,
    whose tags it shares when they are equal."""
    svc.node = intern(svc.node)
    svc.name = sibling.name if sibling is not None else intern(svc.name)
    svc.address = intern(svc.address)
    svc.kind = intern(svc.kind)
    svc.source = intern(svc.source)
    svc.tags = _tags(svc.tags, sibling.tags if sibling is not None else None)
    svc.meta = _dict(svc.meta)
    if svc.weights == DEFAULT_WEIGHTS:
        svc.weights = SHARED_WEIGHTS
    svc.tagged_addresses = _dict(svc.tagged_addresses)
    svc.proxy = _dict(svc.proxy)
    svc.connect = _dict(svc.connect)


def share_check(chk: Check, service: Service | None) -> None:
    """`chk` holding shared values; `service`: the instance it checks, if kept, whose name,
    ID and tags it shares."""
    chk.node = intern(chk.node)
    chk.name = intern(chk.name)
    chk.status = intern(chk.status)
    chk.notes = intern(chk.notes)
    if service is not None and chk.service_id == service.id:
        chk.service_id = service.id
        if chk.service_name == service.name:
            chk.service_name = service.name
        chk.service_tags = _tags(chk.service_tags, service.tags)
    else:
        chk.service_name = intern(chk.service_name)
        chk.service_tags = _tags(chk.service_tags, None)
    if chk.definition == _PLAIN_DEFINITION:
        chk.definition = EMPTY_DEFINITION

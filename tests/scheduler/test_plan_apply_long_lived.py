"""The full collection of the frozen state waits for an idle worker, within a bound."""

import gc
import weakref
from collections.abc import Iterator

import pytest

from yurt.scheduler.plan_apply import LongLived


@pytest.fixture(autouse=True)
def _restore_gc() -> Iterator[None]:
    gc.collect()
    gc.freeze()  # the young generations start empty: the test counts what it makes
    yield
    gc.unfreeze()


def _objects(n: int) -> list[list[int]]:
    # lists, which the collector always tracks (a dict of ints is untracked)
    return [[i] for i in range(n)]


def test_below_the_floor_nothing_is_collected_idle_or_busy() -> None:
    ll = LongLived(regrow=4.0, busy=4.0, floor=50_000)
    kept = _objects(10_000)
    ll.settle()
    ll.when_idle()
    assert ll.full_collections == 0
    assert gc.get_count()[0] < 1_000  # what the plan made was frozen all the same
    del kept


def test_an_idle_worker_collects_once_the_heap_passed_the_mark() -> None:
    ll = LongLived(regrow=4.0, busy=4.0, floor=10_000)
    kept = _objects(20_000)
    ll.settle()  # past the mark, but a busy worker waits for idle time
    assert ll.full_collections == 0
    ll.when_idle()
    assert ll.full_collections == 1
    ll.when_idle()  # nothing grew since
    assert ll.full_collections == 1
    del kept


def test_a_never_idle_worker_collects_inside_a_plan_at_the_busy_bound() -> None:
    ll = LongLived(regrow=4.0, busy=4.0, floor=10_000)
    kept = _objects(20_000)
    ll.settle()
    assert ll.full_collections == 0
    kept += _objects(30_000)  # 50,000 frozen: past 4 x the 10,000 mark
    ll.settle()
    assert ll.full_collections == 1
    del kept


def test_frozen_cyclic_garbage_is_reclaimed_by_the_idle_collection() -> None:
    ll = LongLived(regrow=4.0, busy=4.0, floor=10_000)

    class Node:
        def __init__(self) -> None:
            self.me = self

    cycles = [Node() for _ in range(20_000)]
    one = weakref.ref(cycles[0])
    ll.settle()
    del cycles  # cycles now frozen: reference counting cannot free them
    gc.collect()  # and a collection of the generations does not see them
    assert one() is not None
    ll.when_idle()
    assert one() is None
    assert ll.full_collections == 1

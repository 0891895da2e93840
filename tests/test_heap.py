"""The C heap's free memory given back once a burst is over (`yurt/heap.py`)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap

import pytest

from yurt import heap
from yurt.heap import QuietRelease

MB = 1024 * 1024


@pytest.mark.parametrize(
    ("samples", "want"),
    [
        # (free bytes or None, resident bytes, CPU seconds of the period, its wall seconds)
        # -> a trim after each? (no trim happens in these sequences: `trimmed` is not called)
        ([(100 * MB, 200 * MB, 0.0, 2.0)], [True]),  # before any trim, any growth counts
        ([(100 * MB, 200 * MB, 1.5, 2.0)], [False]),  # busy
        # busy, then quiet: trimmed once quiet
        ([(30 * MB, 80 * MB, 1.5, 2.0), (30 * MB, 80 * MB, 0.1, 2.0)], [False, True]),
        ([(3 * MB, 200 * MB, 0.0, 2.0)], [False]),  # too little free to be worth it
        ([(None, 200 * MB, 0.0, 2.0)], [True]),  # glibc before 2.33: by the resident size
        ([(30 * MB, 3 * MB, 0.0, 2.0)], [False]),  # resident below the minimum
        # exactly at the quiet bound (10 % of a core over two seconds)
        ([(30 * MB, 80 * MB, 0.2, 2.0)], [True]),
    ],
)
def test_a_trim_is_due_when_the_process_grew_and_is_quiet(
    samples: list[tuple[int | None, int, float, float]], want: list[bool]
) -> None:
    policy = QuietRelease()
    assert [policy.due(*s) for s in samples] == want


def test_after_a_trim_growth_is_counted_from_what_it_left() -> None:
    policy = QuietRelease()
    assert policy.due(40 * MB, 300 * MB, 0.0, 2.0)
    policy.trimmed(200 * MB)
    assert not policy.due(40 * MB, 200 * MB, 0.0, 2.0)
    assert not policy.due(40 * MB, 203 * MB, 0.0, 2.0)
    # a burst shorter than a period touched free pages again: the resident size shows it,
    # however the free part moved in between
    assert policy.due(40 * MB, 230 * MB, 0.0, 2.0)


def test_the_loop_trims_when_due_and_stops_when_cancelled() -> None:
    if heap.free_bytes() is None:
        pytest.fail("this machine's Python runs on glibc 2.33 or later: the heap is readable")
    calls: list[int] = []

    class Always(QuietRelease):
        def due(self, free: int | None, resident: int, cpu_s: float, wall_s: float) -> bool:
            return True

        def trimmed(self, resident: int) -> None:
            calls.append(resident)

    async def main() -> None:
        task = asyncio.create_task(heap.release_when_quiet(every_s=0.01, policy=Always()))
        while len(calls) < 3:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(asyncio.wait_for(main(), 10))
    assert all(isinstance(resident, int) and resident > 0 for resident in calls)


_CHILD = textwrap.dedent(
    """
    from yurt import heap

    def rss_mb():
        return heap.resident_bytes() / 2**20

    assert heap.configure()
    # blocks above CPython's small-object limit come from malloc: keep one in ten, as a
    # burst's leftovers are, so the heap cannot shrink from its top
    keep, drop = [], []
    for i in range(60_000):
        (keep if i % 10 == 0 else drop).append(bytes(2_000 + i % 500))
    del drop
    before = rss_mb()
    free = heap.free_bytes()
    heap.release()
    print(before, rss_mb(), free, len(keep))
    """
)


@pytest.mark.process(reason="a child Python with a heap of its own")
def test_release_gives_a_fragmented_heaps_free_pages_back() -> None:
    out = subprocess.run(
        [sys.executable, "-c", _CHILD], capture_output=True, text=True, timeout=60, check=True
    )
    before, after, free, kept = out.stdout.split()
    assert int(free) > 80 * MB  # ~110 MB freed in the middle of the heap
    assert float(before) - float(after) > 60, out.stdout  # and gone from the RSS
    assert int(kept) == 6_000

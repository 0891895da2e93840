"""Giving the C heap's free memory back to the system once a burst of work is over.

CPython keeps objects of up to 512 bytes in its own arenas, returned when they empty;
everything larger (the tables of dicts of thousands of entries, answers of megabytes, the
lists of decoded answers) comes from glibc's malloc, and two of its defaults keep what a
burst used for good:

- the mmap threshold rises to the size of the largest mapped block freed (up to 32 MB), so
  after the first whole-catalog answer (7.5 MB at 30,000 checks) every later one is carved
  from the heap, where a small block still in use above it keeps the whole span resident;
- free memory inside the heap, not at its top, goes back only through `malloc_trim`.

After 30,000 registrations the router held ~35 MB of free heap that way. So each
long-running role fixes the threshold at start (`configure`) and, every few seconds,
trims the heap when the free part grew by `RELEASE_MIN_BYTES` since it was last at its
lowest, and only while the process is quiet: a trim of a few hundred MB of heap holds the
event loop for tens of milliseconds, which a busy proxy would see in its tail latency.

Elsewhere than glibc (musl, macOS) all of this does nothing.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import time
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

_M_MMAP_THRESHOLD = -3  # mallopt's parameter number (malloc.h)
MMAP_THRESHOLD = 256 * 1024
RELEASE_EVERY_S = 2.0
RELEASE_MIN_BYTES = 4 * 1024 * 1024
QUIET_CPU_SHARE = 0.10  # of one core, over the last period


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def _glibc() -> Any:
    try:
        libc = ctypes.CDLL(None)
        for name in ("mallopt", "malloc_trim", "mallinfo2"):
            getattr(libc, name)
    except (OSError, AttributeError):
        return None
    libc.mallinfo2.restype = _MallInfo2
    libc.mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    libc.malloc_trim.argtypes = (ctypes.c_size_t,)
    return libc


_libc = _glibc()


def available() -> bool:
    return _libc is not None


def configure(mmap_threshold: int = MMAP_THRESHOLD) -> bool:
    """Blocks of `mmap_threshold` bytes and more are mapped on their own, and unmapped
    when freed, whatever was freed before. False where it cannot be set."""
    return _libc is not None and bool(_libc.mallopt(_M_MMAP_THRESHOLD, mmap_threshold))


def free_bytes() -> int | None:
    """The free memory inside the heap (resident or not), or None without glibc."""
    if _libc is None:
        return None
    return int(_libc.mallinfo2().fordblks)


def release() -> None:
    """Give the heap's free pages back to the system (they stay addressable)."""
    if _libc is not None:
        _libc.malloc_trim(0)


@dataclass
class QuietRelease:
    """When to trim: the heap's free part grew by `min_bytes` since its lowest point after
    the last trim (what is free now and was in use then is resident for nothing), and the
    process used at most `quiet_share` of a core over the period."""

    min_bytes: int = RELEASE_MIN_BYTES
    quiet_share: float = QUIET_CPU_SHARE
    _lowest: int | None = None

    def due(self, free: int, cpu_s: float, wall_s: float) -> bool:
        lowest = free if self._lowest is None else min(self._lowest, free)
        self._lowest = lowest
        return free - lowest >= self.min_bytes and cpu_s <= self.quiet_share * wall_s

    def trimmed(self, free: int) -> None:
        """A trim left `free` bytes free (still counted, no longer resident)."""
        self._lowest = free


async def release_when_quiet(
    every_s: float = RELEASE_EVERY_S, policy: QuietRelease | None = None
) -> None:
    """Run for as long as the process serves: trims the heap when `policy` says so."""
    if _libc is None:
        return
    policy = policy or QuietRelease()
    wall, cpu = time.monotonic(), time.process_time()
    while True:
        await asyncio.sleep(every_s)
        now_wall, now_cpu = time.monotonic(), time.process_time()
        free = free_bytes() or 0
        if policy.due(free, now_cpu - cpu, now_wall - wall):
            started = time.perf_counter()
            release()
            log.debug(
                "gave back free heap (%d MB free) in %.1f ms",
                free >> 20,
                (time.perf_counter() - started) * 1000,
            )
            policy.trimmed(free_bytes() or 0)
        # the trim's own CPU time is not the next period's load
        wall, cpu = time.monotonic(), time.process_time()

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
trims the heap when its resident size grew by `RELEASE_MIN_BYTES` since the last trim, and
only while the process is quiet: a trim of a few hundred MB of heap holds the event loop
for tens of milliseconds, which a busy proxy would see in its tail latency.

Elsewhere than glibc (musl, macOS) all of this does nothing; before glibc 2.33 (no
`mallinfo2`) the trim goes by the resident size alone.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
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
        libc.mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
        libc.malloc_trim.argtypes = (ctypes.c_size_t,)
    except (OSError, AttributeError):
        return None
    return libc


def _mallinfo2(libc: Any) -> Any:
    """glibc 2.33 and later; older ones trim without knowing how much is free."""
    try:
        info = libc.mallinfo2
    except AttributeError:
        return None
    info.restype = _MallInfo2
    return info


_libc = _glibc()
_info = None if _libc is None else _mallinfo2(_libc)


def configure(mmap_threshold: int = MMAP_THRESHOLD) -> bool:
    """Blocks of `mmap_threshold` bytes and more are mapped on their own, and unmapped
    when freed, whatever was freed before. False where it cannot be set."""
    return _libc is not None and bool(_libc.mallopt(_M_MMAP_THRESHOLD, mmap_threshold))


def free_bytes() -> int | None:
    """The free memory inside the heap (resident or not); None where it is not known."""
    if _info is None:
        return None
    return int(_info().fordblks)


_PAGE = os.sysconf("SC_PAGE_SIZE")


def resident_bytes() -> int:
    with open("/proc/self/statm", "rb") as f:
        return int(f.read().split()[1]) * _PAGE


def release() -> None:
    """Give the heap's free pages back to the system (they stay addressable)."""
    if _libc is not None:
        _libc.malloc_trim(0)


@dataclass
class QuietRelease:
    """When to trim: the process used at most `quiet_share` of a core over the period, its
    resident size grew by `min_bytes` since the last trim left it (pages a burst touched,
    however short, are counted however the free part moved meanwhile), and the heap has at
    least that much free (when it is known). Before the first trim any growth counts: what
    loading the stores at start freed is given back too."""

    min_bytes: int = RELEASE_MIN_BYTES
    quiet_share: float = QUIET_CPU_SHARE
    _base: int = 0  # the resident size the last trim left

    def due(self, free: int | None, resident: int, cpu_s: float, wall_s: float) -> bool:
        return (
            cpu_s <= self.quiet_share * wall_s
            and resident - self._base >= self.min_bytes
            and (free is None or free >= self.min_bytes)
        )

    def trimmed(self, resident: int) -> None:
        """A trim left the process `resident` bytes."""
        self._base = resident


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
        resident = resident_bytes()
        if policy.due(free_bytes(), resident, now_cpu - cpu, now_wall - wall):
            started = time.perf_counter()
            release()
            left = resident_bytes()
            log.debug(
                "gave back %d MB of free heap in %.1f ms",
                (resident - left) >> 20,
                (time.perf_counter() - started) * 1000,
            )
            policy.trimmed(left)
        # the trim's own CPU time is not the next period's load
        wall, cpu = time.monotonic(), time.process_time()

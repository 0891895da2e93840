"""Reading allocation files in bounded chunks, off the event loop.

`fs/cat`, `fs/readat`, `fs/stream` and `fs/logs` send files of any size: each chunk is read
in a worker thread (a slow disk never stalls the loop) and written before the next is read,
so the memory a request holds is one chunk, whatever the file's size, and a slow reader
slows the reads down instead of filling the client's memory (aiohttp's write waits for the
socket to drain).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

# Nomad's streaming frames carry at most 64 KiB of file data (streamFrameSize).
CHUNK_SIZE = 64 * 1024


def _read_at(f: BinaryIO, offset: int, size: int) -> bytes:
    f.seek(offset)
    return f.read(size)


async def read_chunks(
    path: Path, offset: int = 0, limit: int = -1, *, chunk_size: int = CHUNK_SIZE
) -> AsyncIterator[bytes]:
    """The bytes of `path` from `offset`, `limit` of them (all when negative), chunk by chunk.

    Stops at the end of the file as it is while being read."""
    f = await asyncio.to_thread(path.open, "rb")
    try:
        remaining = limit
        pos = offset
        while remaining != 0:
            want = chunk_size if remaining < 0 else min(chunk_size, remaining)
            data = await asyncio.to_thread(_read_at, f, pos, want)
            if not data:
                return
            pos += len(data)
            if remaining > 0:
                remaining -= len(data)
            yield data
    finally:
        await asyncio.to_thread(f.close)


async def read_chunk(path: Path, offset: int, size: int = CHUNK_SIZE) -> bytes:
    """Up to `size` bytes of `path` at `offset` (b"" at the end, or when it is gone)."""

    def read() -> bytes:
        try:
            with path.open("rb") as f:
                return _read_at(f, offset, size)
        except FileNotFoundError:
            return b""

    return await asyncio.to_thread(read)


async def file_size(path: Path) -> int | None:
    """The size of `path` now, or None when it does not exist."""

    def size() -> int | None:
        try:
            return path.stat().st_size
        except FileNotFoundError:
            return None

    return await asyncio.to_thread(size)

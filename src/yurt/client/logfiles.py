"""Task log files as Nomad writes them: `alloc/logs/<task>.<stdout|stderr>.<N>`, a new index
when the current file reaches `max_file_size`, at most `max_files` kept.

Run as a script, this is the log monitor of a raw_exec/exec task (Nomad's logmon): it reads
the task's stdout and stderr from inherited pipe descriptors and writes them to the rotated
files. It runs in its own session with no imports beyond the standard library, so it starts
fast and outlives a client that is killed, and a re-attached client finds logs still flowing.

    python -I logfiles.py LOG_DIR TASK MAX_FILES MAX_FILE_SIZE STDOUT_FD STDERR_FD
"""

from __future__ import annotations

import contextlib
import os
import re
import selectors
import sys
from pathlib import Path


def log_indexes(log_dir: Path, task: str, kind: str) -> list[int]:
    """The indexes of `<task>.<kind>.N` that exist, oldest first."""
    pattern = re.compile(rf"^{re.escape(task)}\.{kind}\.(\d+)$")
    out = []
    try:
        names = os.listdir(log_dir)
    except OSError:
        return []
    for name in names:
        m = pattern.match(name)
        if m:
            out.append(int(m.group(1)))
    return sorted(out)


class RotatingLog:
    """Appends to the newest `<task>.<kind>.N`, rolling to N+1 past `max_size` bytes."""

    def __init__(self, log_dir: Path, task: str, kind: str, max_files: int, max_size: int):
        self.dir = log_dir
        self.base = f"{task}.{kind}"
        self.task = task
        self.kind = kind
        self.max_files = max(1, max_files)
        self.max_size = max(1, max_size)
        indexes = log_indexes(log_dir, task, kind)
        self.index = indexes[-1] if indexes else 0
        self.file = open(self._path(self.index), "ab")  # noqa: SIM115 - held open on purpose
        self.size = self.file.tell()

    def _path(self, index: int) -> Path:
        return self.dir / f"{self.base}.{index}"

    def write(self, data: bytes) -> None:
        while data:
            room = self.max_size - self.size
            if room <= 0:
                self._roll()
                continue
            chunk, data = data[:room], data[room:]
            self.file.write(chunk)
            self.size += len(chunk)
        self.file.flush()

    def _roll(self) -> None:
        self.file.close()
        self.index += 1
        self.file = open(self._path(self.index), "ab")  # noqa: SIM115
        self.size = 0
        for old in log_indexes(self.dir, self.task, self.kind)[: -self.max_files]:
            with contextlib.suppress(OSError):
                self._path(old).unlink()

    def close(self) -> None:
        self.file.close()


def _main(argv: list[str]) -> int:
    log_dir, task, max_files, max_size, out_fd, err_fd = argv
    sinks = {
        int(out_fd): RotatingLog(Path(log_dir), task, "stdout", int(max_files), int(max_size)),
        int(err_fd): RotatingLog(Path(log_dir), task, "stderr", int(max_files), int(max_size)),
    }
    sel = selectors.DefaultSelector()
    for fd in sinks:
        sel.register(fd, selectors.EVENT_READ)
    open_fds = set(sinks)
    while open_fds:
        for key, _ in sel.select():
            fd = int(key.fd)
            data = os.read(fd, 65536)
            if not data:
                sel.unregister(fd)
                open_fds.discard(fd)
                continue
            sinks[fd].write(data)
    for sink in sinks.values():
        sink.close()
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))

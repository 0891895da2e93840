"""The real products of `../shared/reference` as child processes for the differential
tests: where they are, and one running in a network namespace until the block ends."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path

REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference"


@contextlib.contextmanager
def reference_process(argv: Sequence[str], log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`argv` (a reference binary, behind a namespace's exec prefix) with its output in
    `log_path`; terminated, then killed if it lingers, when the block ends."""
    with log_path.open("wb") as log:
        proc = subprocess.Popen(list(argv), stdout=log, stderr=subprocess.STDOUT)
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

"""Consul's snapshot envelope around yurt's archive: what `/v1/snapshot` sends and takes.

Consul's snapshot is a gzip'ed tar of `meta.json` (Raft's snapshot metadata), `state.bin`
(the state) and `SHA256SUMS` (the two files' hashes, as `sha256sum` writes them). The real
`consul snapshot save` checks exactly that envelope before it keeps the file, so yurt wraps
its own archive (`storage/archive.py`, gzip'ed JSON lines) as `state.bin` in the same
envelope: the real CLI saves and restores yurt's snapshots, while their state stays yurt's
(it restores into a yurt catalog, not into Consul, and `consul snapshot inspect`, which
decodes Consul's state format, cannot read it).

Pure functions: no I/O beyond bytes in memory.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import tarfile
import zlib
from dataclasses import dataclass

META = "meta.json"
STATE = "state.bin"
SUMS = "SHA256SUMS"


class EnvelopeError(ValueError):
    """An upload that is not a snapshot; the message is Consul's wording where it has one."""


@dataclass(frozen=True)
class SnapshotMeta:
    """What Raft's SnapshotMeta says about a one-server catalog's snapshot."""

    index: int
    server_id: str
    address: str
    term: int = 1
    # milliseconds since the epoch: Raft's snapshot IDs end with it
    millis: int = 0


def _msgpack_strings(items: list[str]) -> bytes:
    """Raft's legacy `Peers` field: the addresses as a msgpack array of strings."""
    out = bytearray([0x90 | len(items)] if len(items) < 16 else [0xDC, 0, len(items)])
    for item in items:
        raw = item.encode()
        if len(raw) < 32:
            out.append(0xA0 | len(raw))
        else:
            out += bytes([0xD9, len(raw)])
        out += raw
    return bytes(out)


def meta_json(meta: SnapshotMeta, size: int) -> bytes:
    data = {
        "Version": 1,
        "ID": f"{meta.term}-{meta.index}-{meta.millis}",
        "Index": meta.index,
        "Term": meta.term,
        "Peers": base64.b64encode(_msgpack_strings([meta.address])).decode(),
        "Configuration": {
            "Servers": [{"Suffrage": 0, "ID": meta.server_id, "Address": meta.address}]
        },
        "ConfigurationIndex": 1,
        "Size": size,
    }
    return json.dumps(data, separators=(",", ":")).encode()


def _member(name: str, data: bytes, mtime: int) -> tuple[tarfile.TarInfo, io.BytesIO]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o600
    info.mtime = mtime
    return info, io.BytesIO(data)


def wrap(state: bytes, meta: SnapshotMeta) -> bytes:
    """The envelope Consul's clients expect, holding `state` as `state.bin`."""
    meta_bytes = meta_json(meta, len(state))
    sums = "".join(
        f"{hashlib.sha256(data).hexdigest()}  {name}\n"
        for name, data in ((META, meta_bytes), (STATE, state))
    ).encode()
    raw = io.BytesIO()
    mtime = meta.millis // 1000
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in ((META, meta_bytes), (STATE, state), (SUMS, sums)):
            tar.addfile(*_member(name, data, mtime))
        end = tar.offset + 2 * tarfile.BLOCKSIZE
    # Python pads the tar to a 10 KiB record; Go's writer stops after the two zero blocks
    # that end it, and Consul refuses an archive with bytes left after them
    return gzip.compress(raw.getvalue()[:end], mtime=mtime)


def is_envelope(data: bytes) -> bool:
    """Whether `data` is a gzip'ed tar (an envelope) rather than a bare yurt archive."""
    try:
        head = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data[:4096], 512)
    except zlib.error:
        return False
    return head[257:262] == b"ustar"


def _parse_sums(text: bytes) -> dict[str, str]:
    sums: dict[str, str] = {}
    for line in text.decode(errors="replace").splitlines():
        digest, _, name = line.partition("  ")
        if not name:
            raise EnvelopeError(f"failed to read snapshot file: bad {SUMS} line {line!r}")
        sums[name] = digest.lower()
    return sums


def unwrap(data: bytes) -> bytes:
    """`state.bin` of an envelope, once both files' hashes match `SHA256SUMS` (Consul's
    check); raises EnvelopeError naming what is wrong."""
    try:
        raw = gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise EnvelopeError(f"failed to decompress snapshot: {exc}") from None
    files: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
            for info in tar:
                if info.name not in (META, STATE, SUMS):
                    raise EnvelopeError(f'unexpected file "{info.name}" in snapshot')
                got = tar.extractfile(info)
                files[info.name] = got.read() if got is not None else b""
    except tarfile.TarError as exc:
        raise EnvelopeError(f"failed to read snapshot file: {exc}") from None
    for name in (META, STATE, SUMS):
        if name not in files:
            raise EnvelopeError(f"failed to read snapshot file: {name} is missing")
    sums = _parse_sums(files[SUMS])
    for name in (META, STATE):
        want = sums.get(name)
        if want is None:
            raise EnvelopeError(f'file missing hash for "{name}"')
        if hashlib.sha256(files[name]).hexdigest() != want:
            raise EnvelopeError(f'hash check failed for "{name}"')
    return files[STATE]

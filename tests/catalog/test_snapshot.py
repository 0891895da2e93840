"""Snapshots: Consul's envelope around yurt's archive (tables), and a real backup through
py-consul, restored into a fresh catalog."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path

import aiohttp
import pytest

from tests.catalog.inprocess import base_url, py_consul, request, running_catalog
from yurt.catalog.snapshot_envelope import (
    EnvelopeError,
    SnapshotMeta,
    is_envelope,
    meta_json,
    unwrap,
    wrap,
)
from yurt.storage.archive import encode

META = SnapshotMeta(index=7, server_id="abc", address="127.0.0.1:8300", millis=1_700_000_000_000)


def _tar(files: dict[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue())


def _members(envelope: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(envelope)), mode="r:") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar}  # type: ignore[union-attr]


def test_envelope_is_consuls_layout() -> None:
    state = encode(7, [])
    envelope = wrap(state, META)
    files = _members(envelope)
    assert list(files) == ["meta.json", "state.bin", "SHA256SUMS"]
    assert files["state.bin"] == state
    meta = json.loads(files["meta.json"])
    assert meta["ID"] == "1-7-1700000000000" and meta["Index"] == 7 and meta["Term"] == 1
    assert meta["Size"] == len(state)
    assert meta["Configuration"]["Servers"] == [
        {"Suffrage": 0, "ID": "abc", "Address": "127.0.0.1:8300"}
    ]
    # Raft's legacy Peers: msgpack ["127.0.0.1:8300"], as consul 1.10.11 writes it
    assert meta["Peers"] == "ka4xMjcuMC4wLjE6ODMwMA=="
    sums = files["SHA256SUMS"].decode().splitlines()
    assert [line.split("  ")[1] for line in sums] == ["meta.json", "state.bin"]
    # no padding after the tar's end: Consul refuses bytes left over
    assert len(gzip.decompress(envelope)) % 512 == 0
    assert (
        len(gzip.decompress(envelope))
        == 3 * 512 + sum(-(-len(d) // 512) * 512 for d in files.values()) + 1024
    )
    assert unwrap(envelope) == state
    assert is_envelope(envelope) and not is_envelope(state)


def _sums(meta: bytes, state: bytes) -> bytes:
    return (
        f"{hashlib.sha256(meta).hexdigest()}  meta.json\n"
        f"{hashlib.sha256(state).hexdigest()}  state.bin\n"
    ).encode()


META_BYTES = meta_json(META, 2)
BAD = [
    (b"not gzip", "failed to decompress snapshot: "),
    (gzip.compress(b"x" * 600), "failed to read snapshot file: "),
    (_tar({"meta.json": META_BYTES, "state.bin": b"st", "extra": b""}), 'unexpected file "extra"'),
    (_tar({"meta.json": META_BYTES, "state.bin": b"st"}), "SHA256SUMS is missing"),
    (
        _tar({"meta.json": META_BYTES, "state.bin": b"XX", "SHA256SUMS": _sums(META_BYTES, b"st")}),
        'hash check failed for "state.bin"',
    ),
    (
        _tar({"meta.json": META_BYTES, "state.bin": b"st", "SHA256SUMS": b""}),
        'file missing hash for "meta.json"',
    ),
]


@pytest.mark.parametrize(("data", "text"), BAD)
def test_bad_envelopes(data: bytes, text: str) -> None:
    with pytest.raises(EnvelopeError, match=None) as got:
        unwrap(data)
    assert text in str(got.value)


async def test_backup_restores_into_a_fresh_catalog(tmp_path: Path) -> None:
    async with running_catalog(tmp_path / "a") as old, py_consul(old) as c:
        await c.kv.put("app/config", "v1")
        await c.agent.service.register("web", port=80, tags=["urlprefix-/"])
        await c.config.set("service-defaults", "web", {"Protocol": "http"})
        data = await c.snapshot.save()
        assert is_envelope(data)
        async with (
            aiohttp.ClientSession() as http,
            http.get(base_url(old) + "/v1/snapshot") as resp,
        ):
            assert resp.status == 200
            headers = resp.headers
        assert headers["Content-Type"] == "application/x-gzip"
        assert int(headers["X-Consul-Index"]) > 0
    async with running_catalog(tmp_path / "b") as new, py_consul(new) as c:
        assert await c.snapshot.restore(data) is True
        _, entry = await c.kv.get("app/config")
        assert entry["Value"] == b"v1"
        _, services = await c.catalog.services()
        assert services["web"] == ["urlprefix-/"]
        entry = await c.config.get("service-defaults", "web")
        assert entry["Protocol"] == "http"
        # the restoring agent is still in its own catalog (anti-entropy)
        _, nodes = await c.catalog.nodes()
        assert "node1" in [n["Node"] for n in nodes]


async def test_restore_refuses_garbage_and_takes_bare_archives(tmp_path: Path) -> None:
    async with running_catalog(tmp_path) as srv:
        status, text, _ = await request(srv, "PUT", "/v1/snapshot", "garbage")
        assert status == 500 and text.startswith("failed to read snapshot")
        # a bare archive (what yurt sent before the envelope) still restores
        bare = srv.store.snapshot()
        async with py_consul(srv) as c:
            await c.kv.put("later", "x")
            assert await c.snapshot.restore(bare) is True
            _, entry = await c.kv.get("later")
            assert entry is None

"""Fabio's `consul` certificate source: certificates kept in Consul's KV store.

`cs=NAME;type=consul;cert=http://localhost:8500/v1/kv/path/to/certs?token=...` reads every key
under the prefix as a file of the `path` source (`NAME.pem`, `NAME-cert.pem` and
`NAME-key.pem`, chosen by SNI) and follows the prefix with blocking queries, so a certificate
put into KV serves the next TLS connections without a restart. `clientca=` may name a KV key
(or prefix) with the client CA certificates, read once at start, as in Fabio.

Python's `ssl` loads certificates from files only, so the store keeps the KV values in a
private directory (mode 0700) that it removes when it stops.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from yurt.router.certs import CertSource, CertStore
from yurt.router.config import ConfigError
from yurt.router.consul import ConsulClient, ConsulError

log = logging.getLogger(__name__)


def parse_kv_url(url: str) -> tuple[str, str, str]:
    """(Consul's base URL, KV prefix, token) of `http://host:port/v1/kv/prefix?token=...`."""
    # Fabio's documentation also writes the token as `...&token=` without a `?`.
    if "?" not in url and "&token=" in url:
        url = url.replace("&token=", "?token=", 1)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"proxy.cs: {url!r}: expected http(s)://host:port/v1/kv/<prefix>")
    if not parts.path.startswith("/v1/kv/"):
        raise ConfigError(f"proxy.cs: {url!r}: the path must start with /v1/kv/")
    token = parse_qs(parts.query).get("token", [""])[0]
    prefix = unquote(parts.path[len("/v1/kv/") :])
    return f"{parts.scheme}://{parts.netloc}", prefix, token


async def read_kv_files(
    client: ConsulClient, prefix: str, index: int = 0
) -> tuple[dict[str, bytes], int]:
    """The values under `prefix` by file name (the key's last segment), and the index."""
    entries, new_index = await client.kv_list(prefix, index=index)
    files: dict[str, bytes] = {}
    for entry in entries:
        name = str(entry.get("Key", "")).rsplit("/", 1)[-1]
        raw = entry.get("Value")
        if name and raw:
            files[name] = base64.b64decode(raw)
    return files, new_index


def _write_dir(directory: Path, files: dict[str, bytes]) -> bool:
    """Make `directory` hold exactly `files`; True when something changed."""
    changed = False
    for old in directory.iterdir():
        if old.name not in files:
            old.unlink()
            changed = True
    for name, data in files.items():
        path = directory / name
        if path.exists() and path.read_bytes() == data:
            continue
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        changed = True
    return changed


class ConsulCertStore:
    """A listener's certificates from a KV prefix, followed with blocking queries."""

    def __init__(self, source: CertSource, tls_min: str = "", tls_max: str = "") -> None:
        self.source = source
        self._tls = (tls_min, tls_max)
        base, self.prefix, token = parse_kv_url(source.cert)
        self.client = ConsulClient(base, token)
        self.dir = Path(tempfile.mkdtemp(prefix=f"yurt-cs-{source.name}-"))
        self.store: CertStore | None = None
        self.index = 0
        self._watch: asyncio.Task[None] | None = None

    async def start(self, retry: float = 1.0) -> CertStore:
        """Read the certificates (a failure stops the router's start) and follow them."""
        try:
            files, self.index = await read_kv_files(self.client, self.prefix)
            certs = self.dir / "certs"
            certs.mkdir(mode=0o700)
            _write_dir(certs, files)
            clientca = ""
            if self.source.clientca:
                clientca = await self._read_clientca()
            local = replace(self.source, type="path", cert=str(certs), clientca=clientca)
            self.store = CertStore(local, *self._tls)
        except ConsulError as exc:
            await self.stop()
            raise ConfigError(f"proxy.cs: {self.source.name}: {exc}") from None
        except ConfigError:
            await self.stop()
            raise
        self._watch = asyncio.create_task(self._follow(retry))
        return self.store

    async def _read_clientca(self) -> str:
        base, prefix, token = parse_kv_url(self.source.clientca)
        async with ConsulClient(base, token) as client:
            files, _ = await read_kv_files(client, prefix)
        if not files:
            raise ConfigError(f"proxy.cs: {self.source.name}: no client CA under {prefix!r}")
        path = self.dir / "clientca.pem"
        path.write_bytes(b"\n".join(files[name] for name in sorted(files)))
        return str(path)

    async def _follow(self, retry: float) -> None:
        assert self.store is not None
        certs = self.dir / "certs"
        while True:
            try:
                files, index = await read_kv_files(self.client, self.prefix, self.index)
            except ConsulError as exc:
                log.warning("proxy.cs: %s: %s", self.source.name, exc)
                await asyncio.sleep(retry)
                continue
            if index < self.index:
                index = 0  # the index went back (a restarted store): start over
            self.index = index
            if not files:
                log.warning(
                    "proxy.cs: %s: no certificates under %r; keeping the ones read before",
                    self.source.name,
                    self.prefix,
                )
                continue
            if _write_dir(certs, files):
                self.store.refresh()

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            await asyncio.gather(self._watch, return_exceptions=True)
            self._watch = None
        await self.client.close()
        shutil.rmtree(self.dir, ignore_errors=True)

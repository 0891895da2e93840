"""Certificate sources kept somewhere else (Consul's KV, an HTTP server), mirrored locally.

Python's `ssl` loads certificates from files only, so a remote source keeps what it reads in
a private directory (mode 0700, removed when it stops) and serves it as a `path` source
would: the same file names (`NAME.pem`, `NAME-cert.pem`/`NAME-key.pem`), chosen by SNI. Each
kind says how to read the files and how to wait for the next version of them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

from yurt.router.certs import CertSource, CertStore
from yurt.router.config import ConfigError

log = logging.getLogger(__name__)


class CertFetchError(Exception):
    """The remote source could not be read (the message says where and why)."""


def write_dir(directory: Path, files: dict[str, bytes]) -> bool:
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


class RemoteCertStore:
    """A listener's certificates from a remote source, followed while the router runs."""

    def __init__(
        self, source: CertSource, tls_min: str = "", tls_max: str = "", ciphers: str = ""
    ) -> None:
        self.source = source
        self._tls = (tls_min, tls_max, ciphers)
        self.dir = Path(tempfile.mkdtemp(prefix=f"yurt-cs-{source.name}-"))
        self.store: CertStore | None = None
        self._watch: asyncio.Task[None] | None = None

    # what a kind of source provides ---------------------------------------------------

    async def read(self) -> dict[str, bytes]:
        """The certificate files now, by file name."""
        raise NotImplementedError

    async def next(self) -> dict[str, bytes]:
        """The certificate files once they may have changed (a blocking query, a poll)."""
        raise NotImplementedError

    async def read_clientca(self) -> dict[str, bytes]:
        """The client CA certificates named by `clientca=`."""
        raise NotImplementedError

    async def close(self) -> None:
        """Release the source's own resources (an HTTP session)."""

    # the common part -------------------------------------------------------------------

    async def start(self, retry: float = 1.0) -> CertStore:
        """Read the certificates (a failure stops the router's start) and follow them."""
        try:
            certs = self.dir / "certs"
            certs.mkdir(mode=0o700)
            files = await self.read()
            if not files:
                raise ConfigError(
                    f"proxy.cs: {self.source.name}: no certificates at {self.source.cert}"
                )
            write_dir(certs, files)
            clientca = ""
            if self.source.clientca:
                cas = await self.read_clientca()
                if not cas:
                    raise ConfigError(
                        f"proxy.cs: {self.source.name}: no client CA at {self.source.clientca}"
                    )
                path = self.dir / "clientca.pem"
                path.write_bytes(b"\n".join(cas[name] for name in sorted(cas)))
                clientca = str(path)
            local = replace(self.source, type="path", cert=str(certs), clientca=clientca)
            self.store = CertStore(local, *self._tls)
        except CertFetchError as exc:
            await self.stop()
            raise ConfigError(f"proxy.cs: {self.source.name}: {exc}") from None
        except ConfigError:
            await self.stop()
            raise
        self._watch = asyncio.create_task(self._follow(retry))
        return self.store

    async def _follow(self, retry: float) -> None:
        assert self.store is not None
        certs = self.dir / "certs"
        while True:
            try:
                files = await self.next()
            except CertFetchError as exc:
                log.warning("proxy.cs: %s: %s", self.source.name, exc)
                await asyncio.sleep(retry)
                continue
            if not files:
                log.warning(
                    "proxy.cs: %s: no certificates at %s; keeping the ones read before",
                    self.source.name,
                    self.source.cert,
                )
                continue
            if write_dir(certs, files):
                self.store.refresh()

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            await asyncio.gather(self._watch, return_exceptions=True)
            self._watch = None
        await self.close()
        shutil.rmtree(self.dir, ignore_errors=True)

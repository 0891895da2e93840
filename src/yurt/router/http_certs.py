"""Fabio's `http` certificate source: certificates on an HTTP(S) server.

`cs=NAME;type=http;cert=https://host/path/to/certs/list[;clientca=URL][;refresh=3s]
[;hdr=Name: value]` reads a text file that names the certificate files, one per line (as
`ls -1 *.pem > list` writes it), and then each of them from the same directory; the names
follow the `path` source's rules. They are read again every `refresh` (3 s by default, at
least 1 s; 0: never). Credentials may be in the URL (`https://user:pass@host/...`), in its
query, or in a header given with `hdr=`.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urljoin, urlsplit

import aiohttp

from yurt.router.certs import CertSource
from yurt.router.config import ConfigError
from yurt.router.remote_certs import CertFetchError, RemoteCertStore

MAX_FILE = 1 << 20  # Fabio's limit on one certificate file


def check_url(name: str, url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"proxy.cs: {name}: {url!r}: expected an http(s):// URL of a list file")


class HTTPCertStore(RemoteCertStore):
    """Certificates named by a list file on an HTTP server, read again every `refresh`."""

    def __init__(
        self, source: CertSource, tls_min: str = "", tls_max: str = "", ciphers: str = ""
    ) -> None:
        super().__init__(source, tls_min, tls_max, ciphers)
        check_url(source.name, source.cert)
        self.headers = dict(source.headers)
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            timeout = aiohttp.ClientTimeout(total=30)
            self._session = aiohttp.ClientSession(headers=self.headers, timeout=timeout)
        return self._session

    async def _get(self, url: str) -> bytes:
        try:
            async with self.session.get(url) as resp:
                body = await resp.content.read(MAX_FILE + 1)
                if resp.status != 200:
                    raise CertFetchError(f"GET {url}: {resp.status}")
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise CertFetchError(f"GET {url}: {exc or type(exc).__name__}") from None
        if len(body) > MAX_FILE:
            raise CertFetchError(f"GET {url}: larger than {MAX_FILE} bytes")
        return body

    async def _files(self, list_url: str) -> dict[str, bytes]:
        listing = (await self._get(list_url)).decode("utf-8", "replace")
        names = [line.strip() for line in listing.splitlines() if line.strip()]
        bodies = await asyncio.gather(*(self._get(urljoin(list_url, n)) for n in names))
        return {n.rsplit("/", 1)[-1]: body for n, body in zip(names, bodies, strict=True)}

    async def read(self) -> dict[str, bytes]:
        return await self._files(self.source.cert)

    async def next(self) -> dict[str, bytes]:
        if self.source.refresh <= 0:
            await asyncio.Event().wait()  # read once: nothing to follow
        await asyncio.sleep(self.source.refresh)
        return await self.read()

    async def read_clientca(self) -> dict[str, bytes]:
        check_url(self.source.name, self.source.clientca)
        return await self._files(self.source.clientca)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

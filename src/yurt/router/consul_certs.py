"""Fabio's `consul` certificate source: certificates kept in Consul's KV store.

`cs=NAME;type=consul;cert=http://localhost:8500/v1/kv/path/to/certs?token=...` reads every key
under the prefix as a file of the `path` source (the key's last segment is the file name) and
follows the prefix with blocking queries, so a certificate put into KV serves the next TLS
connections without a restart. `clientca=` may name a KV key (or prefix) with the client CA
certificates, read once at start, as in Fabio.
"""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, unquote, urlsplit

from yurt.consul_api.client import ConsulClient, ConsulError
from yurt.consul_api.watch import next_index
from yurt.router.certs import CertSource
from yurt.router.config import ConfigError
from yurt.router.remote_certs import CertFetchError, RemoteCertStore


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
    try:
        entries, new_index = await client.kv_list(prefix, index=index)
    except ConsulError as exc:
        raise CertFetchError(str(exc)) from None
    files: dict[str, bytes] = {}
    for entry in entries:
        name = str(entry.get("Key", "")).rsplit("/", 1)[-1]
        raw = entry.get("Value")
        if name and raw:
            files[name] = base64.b64decode(raw)
    return files, new_index


class ConsulCertStore(RemoteCertStore):
    """Certificates under a KV prefix, followed with blocking queries."""

    def __init__(
        self, source: CertSource, tls_min: str = "", tls_max: str = "", ciphers: str = ""
    ) -> None:
        super().__init__(source, tls_min, tls_max, ciphers)
        base, self.prefix, token = parse_kv_url(source.cert)
        self.client = ConsulClient(base, token=token)
        self.index = 0

    async def read(self) -> dict[str, bytes]:
        files, self.index = await read_kv_files(self.client, self.prefix)
        return files

    async def next(self) -> dict[str, bytes]:
        files, index = await read_kv_files(self.client, self.prefix, self.index)
        self.index = next_index(self.index, index)
        return files

    async def read_clientca(self) -> dict[str, bytes]:
        base, prefix, token = parse_kv_url(self.source.clientca)
        async with ConsulClient(base, token=token) as client:
            files, _ = await read_kv_files(client, prefix)
        return files

    async def close(self) -> None:
        await self.client.close()

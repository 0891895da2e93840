"""Where a server keeps its state: the agent config's `store { }` block.

```hcl
store {
  backend   = "etcd"                     # or "sqlite", the default
  endpoints = ["http://127.0.0.1:2379"]  # etcd's client URLs
  prefix    = "/yurt"                    # state under /yurt/catalog and /yurt/scheduler
  tls { ca_file = "ca.pem"  cert_file = "client.pem"  key_file = "client-key.pem" }
}
```

The checks here are pure (values in, error texts out); `agent_config.py` reports them at
the file:line:column of the key. `open()` makes the backend a server's store is given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import ssl

    from yurt.storage.interface import Backend

BACKENDS = ("sqlite", "etcd")


class StoreOpenError(OSError):
    """The configured store cannot be reached (an OSError: the agent reports it as it
    reports an address in use, naming the component that could not start)."""


DEFAULT_PREFIX = "/yurt"


@dataclass(frozen=True)
class EtcdTLS:
    """TLS to etcd's client port: the CA that signed its certificate, and ours if it asks."""

    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""

    def context(self) -> ssl.SSLContext:
        import ssl

        ctx = ssl.create_default_context(cafile=self.ca_file or None)
        if self.cert_file:
            ctx.load_cert_chain(self.cert_file, self.key_file or None)
        return ctx


@dataclass
class StoreConfig:
    backend: str = "sqlite"
    endpoints: list[str] = field(default_factory=list)
    prefix: str = DEFAULT_PREFIX
    tls: EtcdTLS | None = None
    # Nomad's `server { bootstrap_expect }`: no server of a new cluster leads before this
    # many have registered in etcd (docs/cluster.md); one server on SQLite needs 1
    bootstrap_expect: int = 1

    def open(self, component: str, sqlite_path: Path | str) -> Backend:
        """The backend of one component (`catalog`, `scheduler`): its SQLite file, or its
        prefix `<prefix>/<component>` in etcd."""
        if self.backend != "etcd" and self.bootstrap_expect > 1:
            raise StoreOpenError(
                f"bootstrap_expect = {self.bootstrap_expect} needs several servers, which share "
                'their state in etcd: store { backend = "etcd" } (docs/cluster.md)'
            )
        if self.backend == "etcd":
            from yurt.storage.etcd import EtcdBackend
            from yurt.storage.etcd_client import EtcdError

            try:
                return EtcdBackend(self.endpoints, f"{self.prefix}/{component}", self.tls)
            except EtcdError as exc:
                raise StoreOpenError(f"the {component}'s store in etcd: {exc}") from None
        from yurt.storage.sqlite import SQLiteBackend

        return SQLiteBackend(sqlite_path)


def backend(text: str) -> str:
    if text not in BACKENDS:
        raise ValueError(f'unknown backend "{text}"; expected "sqlite" or "etcd"')
    return text


def endpoint(text: str) -> str:
    """An etcd client URL: http(s)://host:port."""
    url = urlsplit(text)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise ValueError(f'expected a URL such as "http://127.0.0.1:2379", got "{text}"')
    try:
        url.port  # noqa: B018 -- raises on a bad port
    except ValueError:
        raise ValueError(f'bad port in "{text}"') from None
    if url.path not in ("", "/") or url.query:
        raise ValueError(f'an etcd endpoint has no path, got "{text}"')
    return text.rstrip("/")


def prefix(text: str) -> str:
    cleaned = text.rstrip("/")
    if not text.startswith("/") or not cleaned:
        raise ValueError(f'expected a key prefix such as "/yurt", got "{text}"')
    return cleaned


def tls_file(text: str) -> str:
    if not Path(text).is_file():
        raise ValueError(f'no such file "{text}"')
    return text


def problems(store: StoreConfig, *, etcd_keys_set: bool, endpoints_given: bool) -> list[str]:
    """What is wrong with the block as a whole (each key already checked alone; a key
    given but refused is not reported again as missing)."""
    if store.backend == "sqlite":
        if etcd_keys_set:
            return ['endpoints, prefix and tls are for backend = "etcd"']
        return []
    errors: list[str] = []
    if not store.endpoints and not endpoints_given:
        errors.append('backend = "etcd" needs endpoints, such as ["http://127.0.0.1:2379"]')
    https = [e for e in store.endpoints if e.startswith("https://")]
    if store.tls is not None and store.endpoints and len(https) != len(store.endpoints):
        errors.append("tls is given but not every endpoint is https://")
    if store.tls is not None and store.tls.cert_file and not store.tls.key_file:
        errors.append("tls: cert_file needs key_file")
    return errors

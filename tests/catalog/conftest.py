"""A real `yurt catalog` process per test module, py-consul clients, and check targets."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import consul
import pytest
import requests

from tests.support.process import YurtProcess, free_port


class CatalogProcess:
    def __init__(self, tmp: Path, *extra: str, node: str = "node1") -> None:
        self.port = free_port()
        self.data_dir = tmp / "data"
        self.node = node
        self.extra = list(extra)
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = self._make()

    def _make(self) -> YurtProcess:
        return YurtProcess(
            [
                "catalog",
                "-http-addr",
                f"127.0.0.1:{self.port}",
                "-data-dir",
                str(self.data_dir),
                "-node",
                self.node,
                *self.extra,
            ],
            ready_url=f"{self.url}/v1/status/leader",
            log_path=self.data_dir.parent / "catalog.log",
        )

    def start(self) -> CatalogProcess:
        self.proc = self._make()
        self.proc.start()
        return self

    def client(self) -> consul.Consul:
        return consul.Consul(host="127.0.0.1", port=self.port, connections_timeout=30)

    def get(self, path: str, **kw: Any) -> requests.Response:
        kw.setdefault("timeout", 30)
        return requests.get(self.url + path, **kw)

    def put(self, path: str, **kw: Any) -> requests.Response:
        kw.setdefault("timeout", 30)
        return requests.put(self.url + path, **kw)

    def delete(self, path: str, **kw: Any) -> requests.Response:
        kw.setdefault("timeout", 30)
        return requests.delete(self.url + path, **kw)


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CatalogProcess]:
    proc = CatalogProcess(tmp_path_factory.mktemp("catalog")).start()
    try:
        yield proc
    finally:
        proc.proc.stop()


@pytest.fixture(scope="module")
def c(catalog: CatalogProcess) -> consul.Consul:
    return catalog.client()


class Target:
    """An HTTP server whose answer status the test sets; also a TCP port that listens."""

    def __init__(self) -> None:
        self.status = 200
        self.body = b"hello"
        self.requests: list[dict[str, str]] = []
        target = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                target.requests.append(dict(self.headers.items()))
                self.send_response(target.status)
                self.send_header("Content-Length", str(len(target.body)))
                self.end_headers()
                self.wfile.write(target.body)

            do_POST = do_GET

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}/health"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def target() -> Iterator[Target]:
    t = Target()
    try:
        yield t
    finally:
        t.close()


def wait_for(cond: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


# The initial management token of the ACL catalogs (Consul's acl.tokens.initial_management).
ROOT_TOKEN = "6e3f2d9c-7e0b-4c55-9d51-1b3c1f0f0a01"


def acl_config_dir(tmp: Path, default_policy: str = "deny", extra: str = "") -> Path:
    conf = tmp / "conf"
    conf.mkdir(exist_ok=True)
    (conf / "acl.hcl").write_text(
        "acl {\n  enabled = true\n"
        f'  default_policy = "{default_policy}"\n'
        "  enable_token_persistence = true\n"
        f'  tokens {{\n    initial_management = "{ROOT_TOKEN}"\n  }}\n{extra}}}\n'
    )
    return conf


@pytest.fixture(scope="module")
def acl_catalog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CatalogProcess]:
    """A catalog with ACLs on, default deny, and ROOT_TOKEN as its management token."""
    tmp = tmp_path_factory.mktemp("acl-catalog")
    proc = CatalogProcess(tmp, "-config-dir", str(acl_config_dir(tmp))).start()
    try:
        yield proc
    finally:
        proc.proc.stop()


@pytest.fixture(scope="module")
def root(acl_catalog: CatalogProcess) -> consul.Consul:
    """py-consul with the management token."""
    return consul.Consul(
        host="127.0.0.1", port=acl_catalog.port, token=ROOT_TOKEN, connections_timeout=30
    )

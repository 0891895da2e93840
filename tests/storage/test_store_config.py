"""The agent config's `store { }` block: where the catalog's and the scheduler's state lives."""

from __future__ import annotations

from pathlib import Path

import pytest

from yurt.agent_config import ConfigError, parse_agent_config
from yurt.storage.config import EtcdTLS, StoreConfig
from yurt.storage.memory import MemoryBackend
from yurt.storage.sqlite import SQLiteBackend


def test_sqlite_is_the_default() -> None:
    assert parse_agent_config("", "agent.hcl").store == StoreConfig()
    assert StoreConfig().backend == "sqlite" and StoreConfig().prefix == "/yurt"


@pytest.mark.parametrize(
    ("text", "store"),
    [
        ('store { backend = "sqlite" }', StoreConfig()),
        (
            'store {\n  backend = "etcd"\n  endpoints = ["http://127.0.0.1:2379"]\n}',
            StoreConfig("etcd", ["http://127.0.0.1:2379"]),
        ),
        (
            'store {\n  backend = "etcd"\n  prefix = "/team/yurt/"\n'
            '  endpoints = ["http://10.0.0.1:2379", "http://10.0.0.2:2379/"]\n}',
            StoreConfig("etcd", ["http://10.0.0.1:2379", "http://10.0.0.2:2379"], "/team/yurt"),
        ),
    ],
)
def test_a_store_block(text: str, store: StoreConfig) -> None:
    assert parse_agent_config(text, "agent.hcl").store == store


def test_tls_to_etcd(tmp_path: Path) -> None:
    for name in ("ca.pem", "c.pem", "k.pem"):
        (tmp_path / name).write_text("-")
    text = (
        'store {\n  backend = "etcd"\n  endpoints = ["https://etcd:2379"]\n'
        f'  tls {{\n    ca_file = "{tmp_path}/ca.pem"\n    cert_file = "{tmp_path}/c.pem"\n'
        f'    key_file = "{tmp_path}/k.pem"\n  }}\n}}\n'
    )
    tls = parse_agent_config(text, "agent.hcl").store.tls
    assert tls == EtcdTLS(f"{tmp_path}/ca.pem", f"{tmp_path}/c.pem", f"{tmp_path}/k.pem")


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ('store {\n  backend = "raft"\n}', 'x.hcl:2:3: "backend" in store: unknown backend "raft"'),
        ("store {\n  backend = 1\n}", 'x.hcl:2:3: "backend" in store must be a string'),
        ('store {\n  backned = "etcd"\n}', 'x.hcl:2:3: unknown key "backned" in store'),
        (
            'store {\n  backend = "etcd"\n  endpoints = ["127.0.0.1:2379"]\n}',
            'x.hcl:3:3: "endpoints" in store: expected a URL such as "http://127.0.0.1:2379"',
        ),
        (
            'store {\n  backend = "etcd"\n  endpoints = ["http://e:2379/v3"]\n}',
            'x.hcl:3:3: "endpoints" in store: an etcd endpoint has no path',
        ),
        ('store {\n  backend = "etcd"\n}', 'x.hcl:1:1: store: backend = "etcd" needs endpoints'),
        (
            'store {\n  endpoints = ["http://e:2379"]\n}',
            'x.hcl:1:1: store: endpoints, prefix and tls are for backend = "etcd"',
        ),
        (
            'store {\n  backend = "etcd"\n  endpoints = ["http://e:2379"]\n  prefix = "yurt"\n}',
            'x.hcl:4:3: "prefix" in store: expected a key prefix such as "/yurt"',
        ),
        (
            'store {\n  backend = "etcd"\n  endpoints = ["http://e:2379"]\n  prefix = "/"\n}',
            'x.hcl:4:3: "prefix" in store: expected a key prefix',
        ),
        (
            'store {\n  backend = "etcd"\n  endpoints = ["http://e:2379"]\n'
            '  tls {\n    ca_file = "/nonexistent/ca.pem"\n  }\n}',
            'x.hcl:5:5: "ca_file" in store tls: no such file "/nonexistent/ca.pem"',
        ),
        (
            'store {\n  backend = "etcd"\n  endpoints = ["http://e:2379"]\n'
            "  tls {\n    verify = true\n  }\n}",
            'x.hcl:5:5: unknown key "verify" in store tls',
        ),
        (
            'store {\n  backend = "etcd"\n  endpoints = ["http://e:2379"]\n  raft {}\n}',
            'x.hcl:4:3: unknown block "raft" in "store"',
        ),
    ],
)
def test_a_bad_store_block_is_an_error_at_its_position(text: str, error: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_agent_config(text, "x.hcl")
    assert str(info.value).splitlines()[0].startswith(error), str(info.value)


def test_tls_needs_https_endpoints(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("-")
    text = (
        'store {\n  backend = "etcd"\n  endpoints = ["http://e:2379"]\n'
        f'  tls {{\n    ca_file = "{tmp_path}/ca.pem"\n  }}\n}}\n'
    )
    with pytest.raises(ConfigError, match=r"x.hcl:1:1: store: tls is given but not every"):
        parse_agent_config(text, "x.hcl")


def test_sqlite_opens_the_components_file(tmp_path: Path) -> None:
    backend = StoreConfig().open("scheduler", tmp_path / "scheduler.db")
    try:
        assert isinstance(backend, SQLiteBackend)
        assert backend.db.path == tmp_path / "scheduler.db"
    finally:
        backend.close()
    assert not isinstance(backend, MemoryBackend)


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        ("", 1),
        ("server {\n  bootstrap_expect = 1\n}\n", 1),
        ("server {\n  bootstrap_expect = 3\n}\n", 3),
    ],
)
def test_bootstrap_expect_is_kept_for_the_election(text: str, expect: int) -> None:
    assert parse_agent_config(text, "agent.hcl").store.bootstrap_expect == expect


def test_bootstrap_expect_over_one_needs_etcd(tmp_path: Path) -> None:
    from yurt.storage.config import StoreOpenError

    store = parse_agent_config("server {\n  bootstrap_expect = 3\n}\n", "agent.hcl").store
    with pytest.raises(StoreOpenError, match=r'bootstrap_expect = 3 needs .*backend = "etcd"'):
        store.open("scheduler", tmp_path / "scheduler.db")

"""Fabio-style configuration: flags, FABIO_* variables, properties file, precedence."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import yurt.router
from yurt.router.config import (
    ConfigError,
    Listener,
    RouterConfig,
    env_properties,
    load,
    parse_flags,
)


def test_defaults_are_fabios() -> None:
    cfg = load([], {})
    assert cfg.listeners == [Listener("0.0.0.0", 9999, "http")]
    assert (cfg.ui_host, cfg.ui_port) == ("0.0.0.0", 9998)
    assert cfg.consul_addr == "localhost:8500"
    assert (cfg.strategy, cfg.matcher, cfg.tag_prefix) == ("rnd", "prefix", "urlprefix-")
    assert cfg.kv_path == "fabio/config"
    assert cfg.noroute_html_path == "fabio/noroute.html"
    assert cfg.service_status == ("passing",)
    assert cfg.noroute_status == 404


@pytest.mark.parametrize(
    "args",
    [
        ["-proxy.addr", "127.0.0.1:1234", "-proxy.strategy", "rr"],
        ["-proxy.addr=127.0.0.1:1234", "--proxy.strategy=rr"],
    ],
)
def test_flags(args: list[str]) -> None:
    cfg = load(args, {})
    assert cfg.listeners == [Listener("127.0.0.1", 1234)]
    assert cfg.strategy == "rr"


def test_listeners_with_tcp() -> None:
    cfg = load(["-proxy.addr", ":9999,:7000;proto=tcp"], {})
    assert cfg.listeners == [Listener("0.0.0.0", 9999), Listener("0.0.0.0", 7000, "tcp")]


def test_env_both_spellings() -> None:
    assert env_properties({"FABIO_proxy_addr": ":1", "FABIO_REGISTRY_CONSUL_ADDR": "c:1"}) == {
        "proxy.addr": ":1",
        "registry.consul.addr": "c:1",
    }


def test_precedence(tmp_path: Path) -> None:
    f = tmp_path / "fabio.properties"
    f.write_text(
        "# comment\n! also\nproxy.strategy = rr\nproxy.matcher=glob\n"
        "registry.consul.tagprefix = \\\n  lb-\n"
    )
    cfg = load(
        ["-cfg", str(f), "-proxy.matcher", "iprefix"],
        {"FABIO_proxy_strategy": "rnd", "FABIO_proxy_matcher": "prefix"},
    )
    assert cfg.strategy == "rnd"  # env over file
    assert cfg.matcher == "iprefix"  # flag over env
    assert cfg.tag_prefix == "lb-"  # file, with a continuation line


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-proxy.strategy", "lru"], "proxy.strategy: expected rnd or rr"),
        (["-proxy.matcher", "regex"], "proxy.matcher: expected prefix, iprefix or glob"),
        (["-no.such.flag", "1"], "flag provided but not defined: -no.such.flag"),
        (["-proxy.addr"], "flag needs an argument: -proxy.addr"),
        (["-proxy.dialtimeout", "5 sec"], "proxy.dialtimeout"),
        (["-proxy.addr", "nohostport"], "proxy.addr: expected host:port"),
        (["-registry.backend", "gcp"], "expected consul, static or file"),
        (["stray"], "unexpected argument"),
        (["-proxy.addr", ":1;proto=grpc"], "proto='grpc' .* is not supported"),
        (["-proxy.addr", ":1;proto=https"], "a proto=https listener needs cs=NAME"),
        (["-proxy.addr", ":1;proto=https;cs=x"], "cs='x' names no certificate source"),
        (["-proxy.addr", ":1;cs=x"], "cs= is supported on proto=https and proto=tcp"),
        (["-proxy.addr", ":1;proto=tcp+sni;cs=x"], "tcp\\+sni listener passes TLS through"),
        (["-proxy.addr", ":1;bogus=1"], "unknown option 'bogus'"),
        (["-proxy.addr", ":1;proto=https;cs=a;tlsciphers=NOPE"], "unknown cipher suite 'NOPE'"),
        (["-proxy.addr", "0.0.0.0:0;proto=tcp-dynamic;refresh=often"], "refresh"),
        (["-ui.addr", ":1;bogus=1"], "ui.addr: unknown option 'bogus'"),
        (["-ui.addr", ":1;cs=nope"], "ui.addr: cs='nope' names no certificate source"),
        (["-proxy.cs", "cs=a;type=vault;cert=x"], "type='vault' is not supported"),
        (["-proxy.cs", "type=file;cert=x"], "every source needs cs=NAME"),
        (["-proxy.cs", "cs=a;type=file"], "a: cert= is missing"),
        (["-proxy.cs", "cs=a;type=path;cert=/x;refresh=often"], "proxy.cs: a: refresh:"),
        (["-log.access.format", "$nope"], r"log.access.format: unknown field \$nope"),
        (["-log.access.target", "file"], "log.access.target: expected stdout"),
        (["-proxy.gzip.contenttype", "("], r"proxy\.gzip\.contenttype: '\(' is not a regular"),
    ],
)
def test_errors(args: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load(args, {})


def test_properties_file_error_has_position(tmp_path: Path) -> None:
    f = tmp_path / "p.properties"
    f.write_text("proxy.addr = :1\n\nbogus.key = 1\n")
    with pytest.raises(ConfigError, match=r"p.properties:3:1: unknown property 'bogus.key'"):
        load(["-cfg", str(f)], {})


def test_cfg_flag_is_returned() -> None:
    assert parse_flags(["-cfg", "x.properties"]) == ({}, "x.properties")


def test_agent_fields_are_fabio_addresses() -> None:
    from yurt.router.config import RouterConfig

    cfg = RouterConfig(
        proxy_addr="127.0.0.1:0",
        ui_addr="127.0.0.1:0",
        consul_addr="127.0.0.1:8500",
        service_name="fabio",
    )
    assert cfg.listeners == [Listener("127.0.0.1", 0)]
    assert (cfg.http_host, cfg.http_port) == ("127.0.0.1", 0)
    with pytest.raises(ConfigError, match=r"ui\.addr"):
        RouterConfig(ui_addr="nonsense")


def test_api_config_from_code_has_fabios_keys() -> None:
    from yurt.router.config import RouterConfig

    conf = RouterConfig(
        proxy_addr="127.0.0.1:9999", ui_access="ro", consul_token="secret"
    ).api_config()
    assert conf["ui.access"] == "ro"
    assert conf["registry.consul.kvpath"] == "/fabio/config"
    assert conf["proxy.addr"] == "127.0.0.1:9999"
    assert conf["registry.consul.register.name"] == "fabio"
    assert "registry.consul.token" not in conf


def test_refresh_defaults() -> None:
    from yurt.router.certs import parse_cert_sources

    sources = parse_cert_sources(
        "cs=a;type=path;cert=/x,cs=b;type=path;cert=/x;refresh=0,"
        "cs=c;type=path;cert=/x;refresh=10ms,cs=d;type=file;cert=/x;refresh=5s"
    )
    assert [sources[n].refresh for n in "abcd"] == [3.0, 0.0, 1.0, 0.0]


def test_hsts_value() -> None:
    def sts(**props: str) -> str:
        return RouterConfig.from_properties(
            {f"proxy.header.sts.{k}": v for k, v in props.items()}
        ).sts_value

    assert sts() == ""
    assert sts(maxage="31536000") == "max-age=31536000"
    assert sts(maxage="60", subdomains="true", preload="true") == (
        "max-age=60; includeSubdomains; preload"
    )
    with pytest.raises(ConfigError, match=r"proxy\.header\.sts\.maxage: expected an integer"):
        sts(maxage="1y")


def test_fabio_properties_yurt_ignores_still_load(tmp_path: Path) -> None:
    f = tmp_path / "fabio.properties"
    f.write_text("runtime.gogc = 800\nproxy.flushinterval = 1s\nproxy.addr = :9999\n")
    cfg = load(["-cfg", str(f), "-log.level", "DEBUG"], {})
    assert cfg.inert_properties == ["log.level", "proxy.flushinterval", "runtime.gogc"]
    assert cfg.api_config()["runtime.gogc"] == "800"
    bad = tmp_path / "bad.properties"
    bad.write_text("runtime.nope = 1\n")
    with pytest.raises(ConfigError, match=r"unknown property 'runtime\.nope'"):
        load(["-cfg", str(bad)], {})


def test_config_modules_import_no_cycle() -> None:
    """`config` imports `auth`, `certs` and `metrics` to check their settings: none of them
    (nor the config modules they share) imports `config` back."""
    root = Path(yurt.router.__file__).parent
    for name in (
        "auth",
        "certs",
        "metrics",
        "config_values",
        "config_properties",
        "config_listeners",
    ):
        tree = ast.parse((root / f"{name}.py").read_text())
        imported = {
            n.module
            for n in ast.walk(tree)
            if isinstance(n, ast.ImportFrom) and n.module is not None
        }
        assert "yurt.router.config" not in imported, name

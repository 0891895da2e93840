"""TLSConfig: contexts from a throwaway CA, the errors that name a bad file, and a real
HTTPS listener (start_site with tls=) with and without mutual TLS."""

from __future__ import annotations

import re
import ssl
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from tests.support.process import free_port
from tests.support.tls_ca import Pair, TestCA, make_ca
from yurt.api.http import start_site
from yurt.api.tls import TLSConfig, TLSConfigError, parse_min_version


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    return make_ca(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="module")
def server_pair(ca: TestCA) -> Pair:
    return ca.issue("server", ["DNS:server.global.nomad", "DNS:localhost", "IP:127.0.0.1"])


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    return make_ca(tmp_path_factory.mktemp("other-ca"), "other-ca")


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("tls10", ssl.TLSVersion.TLSv1),
        ("tls11", ssl.TLSVersion.TLSv1_1),
        ("tls12", ssl.TLSVersion.TLSv1_2),
        ("tls13", ssl.TLSVersion.TLSv1_3),
        ("TLSv1_2", ssl.TLSVersion.TLSv1_2),
        ("TLSv1_3", ssl.TLSVersion.TLSv1_3),
    ],
)
def test_min_versions(text: str, version: ssl.TLSVersion) -> None:
    assert parse_min_version(text) == version


def test_unknown_min_version_names_the_choices() -> None:
    with pytest.raises(TLSConfigError, match=r'unknown tls_min_version "ssl3".*"tls12"'):
        parse_min_version("ssl3")


def test_scheme_and_url() -> None:
    assert TLSConfig().url("127.0.0.1:4646") == "http://127.0.0.1:4646"
    assert TLSConfig(http=True).url("127.0.0.1:4646") == "https://127.0.0.1:4646"
    assert TLSConfig(http=True).url("http://h:1/") == "http://h:1"


def test_server_context_with_and_without_mutual_tls(ca: TestCA, server_pair: Pair) -> None:
    cfg = TLSConfig(http=True, cert_file=str(server_pair.cert), key_file=str(server_pair.key))
    assert cfg.server_context().verify_mode == ssl.CERT_NONE
    mutual = replace(cfg, ca_file=str(ca.cert), verify_incoming=True)
    assert mutual.server_context().verify_mode == ssl.CERT_REQUIRED


def test_client_context_modes(ca: TestCA, server_pair: Pair) -> None:
    strict = TLSConfig(http=True, ca_file=str(ca.cert)).client_context()
    assert (strict.verify_mode, strict.check_hostname) == (ssl.CERT_REQUIRED, True)
    chain_only = TLSConfig(
        http=True, ca_file=str(ca.cert), verify_server_hostname=False
    ).client_context()
    assert (chain_only.verify_mode, chain_only.check_hostname) == (ssl.CERT_REQUIRED, False)
    skip = TLSConfig(http=True, verify_outgoing=False).client_context()
    assert (skip.verify_mode, skip.check_hostname) == (ssl.CERT_NONE, False)


def test_ca_path_reads_every_pem_file(tmp_path: Path, ca: TestCA, server_pair: Pair) -> None:
    (tmp_path / "ca.crt").write_bytes(ca.cert.read_bytes())
    (tmp_path / "README").write_text("not a certificate")
    ctx = TLSConfig(http=True, ca_path=str(tmp_path)).client_context()
    assert ctx.cert_store_stats()["x509_ca"] == 1


def _errors(ca: TestCA, pair: Pair, other: Pair, tmp: Path) -> Iterator[tuple[str, TLSConfig, str]]:
    garbage = tmp / "garbage.pem"
    garbage.write_text("hello")
    unreadable = tmp / "unreadable.pem"
    unreadable.write_bytes(pair.cert.read_bytes())
    unreadable.chmod(0)
    base = TLSConfig(http=True, cert_file=str(pair.cert), key_file=str(pair.key))
    yield "no cert", TLSConfig(http=True), "needs a certificate: cert_file and key_file not set"
    yield "no key", replace(base, key_file=""), "key_file not set"
    yield "missing cert", replace(base, cert_file="/nope.pem"), 'cert_file "/nope.pem": no such'
    yield "missing key", replace(base, key_file="/nope.key"), 'key_file "/nope.key": no such'
    yield "cert is a dir", replace(base, cert_file=str(tmp)), "not a file"
    yield "cert not PEM", replace(base, cert_file=str(garbage)), "no PEM certificate"
    yield "key not PEM", replace(base, key_file=str(garbage)), "no PEM private key"
    yield (
        "mismatch",
        replace(base, key_file=str(other.key)),
        f'key_file "{other.key}" is not the key of cert_file "{pair.cert}"',
    )
    yield (
        "mutual without CA",
        replace(base, verify_incoming=True),
        "verify_https_client / verify_incoming\\) needs ca_file or ca_path",
    )
    yield "missing CA", replace(base, ca_file="/nope-ca.pem"), 'ca_file "/nope-ca.pem": no such'
    yield "CA not PEM", replace(base, ca_file=str(garbage)), "no PEM certificate"
    yield "ca_path missing", replace(base, ca_path="/nope-dir"), 'ca_path "/nope-dir": no such dir'
    yield "ca_path empty", replace(base, ca_path=str(tmp / "empty")), "no PEM certificate in any"
    yield "bad version", replace(base, tls_min_version="tls9"), 'unknown tls_min_version "tls9"'
    if unreadable.exists() and not _root():
        yield "unreadable", replace(base, cert_file=str(unreadable)), "not readable"


def _root() -> bool:
    import os

    return os.geteuid() == 0


def test_errors_name_the_setting_and_file(
    ca: TestCA, server_pair: Pair, other_ca: TestCA, tmp_path: Path
) -> None:
    (tmp_path / "empty").mkdir()
    other = other_ca.issue("other")
    cases = list(_errors(ca, server_pair, other, tmp_path))
    assert len(cases) >= 14
    for name, cfg, pattern in cases:
        try:
            cfg.check()
        except TLSConfigError as exc:
            assert re.search(pattern, str(exc)), f"{name}: {exc}"
        else:
            pytest.fail(f"{name}: no error")


def test_client_certificate_needs_both_files(server_pair: Pair) -> None:
    with pytest.raises(TLSConfigError, match="cert_file without key_file"):
        TLSConfig(http=True, cert_file=str(server_pair.cert)).client_context()
    with pytest.raises(TLSConfigError, match="key_file without cert_file"):
        TLSConfig(http=True, key_file=str(server_pair.key)).client_context()


async def _hello(request: web.Request) -> web.Response:
    return web.Response(text="hello")


async def _serve(cfg: TLSConfig) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_get("/", _hello)
    port = free_port()
    runner = await start_site(app, "127.0.0.1", port, tls=cfg.server_context())
    return runner, f"https://127.0.0.1:{port}/"


async def _get(url: str, ctx: ssl.SSLContext | bool, **kw: str) -> str:
    async with aiohttp.ClientSession() as session, session.get(url, ssl=ctx, **kw) as resp:
        return await resp.text()


async def test_https_listener_trusted_through_the_ca(ca: TestCA, server_pair: Pair) -> None:
    cfg = TLSConfig(http=True, cert_file=str(server_pair.cert), key_file=str(server_pair.key))
    runner, url = await _serve(cfg)
    try:
        assert await _get(url, TLSConfig(http=True, ca_file=str(ca.cert)).client_context()) == (
            "hello"
        )
        # A caller that trusts only the system's CAs refuses the throwaway one.
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await _get(url, TLSConfig(http=True).client_context())
        # Plain HTTP to the TLS port gets no answer.
        with pytest.raises(aiohttp.ClientError):
            await _get(url.replace("https", "http"), False)
        # `server_name`: the name checked instead of the host dialled (NOMAD_TLS_SERVER_NAME).
        named = TLSConfig(http=True, ca_file=str(ca.cert)).client_context()
        assert await _get(url, named, server_hostname="server.global.nomad") == "hello"
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await _get(url, named, server_hostname="client.global.nomad")
    finally:
        await runner.cleanup()


async def test_mutual_tls_refuses_a_caller_without_a_certificate(
    ca: TestCA, server_pair: Pair, other_ca: TestCA
) -> None:
    cfg = TLSConfig(
        http=True,
        cert_file=str(server_pair.cert),
        key_file=str(server_pair.key),
        ca_file=str(ca.cert),
        verify_incoming=True,
    )
    runner, url = await _serve(cfg)
    client = ca.issue("client", ["DNS:client.global.nomad"])
    stranger = other_ca.issue("stranger")
    try:
        anonymous = TLSConfig(http=True, ca_file=str(ca.cert)).client_context()
        with pytest.raises(aiohttp.ClientError):
            await _get(url, anonymous)
        foreign = TLSConfig(
            http=True,
            ca_file=str(ca.cert),
            cert_file=str(stranger.cert),
            key_file=str(stranger.key),
        ).client_context()
        with pytest.raises(aiohttp.ClientError):
            await _get(url, foreign)
        known = TLSConfig(
            http=True, ca_file=str(ca.cert), cert_file=str(client.cert), key_file=str(client.key)
        ).client_context()
        assert await _get(url, known) == "hello"
    finally:
        await runner.cleanup()

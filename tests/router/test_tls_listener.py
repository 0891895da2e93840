"""`proto=https` listeners with Fabio's file and path certificate sources: TLS terminated
by the router, SNI choosing the certificate, the forwarding headers saying https."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.router.conftest import Catalog
from tests.router.test_router_live import second_router, start_upstream, until, until_answers

pytestmark = pytest.mark.asyncio(loop_scope="module")


def make_cert(directory: Path, name: str, cn: str) -> tuple[Path, Path]:
    cert, key = directory / f"{name}-cert.pem", directory / f"{name}-key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", f"/CN={cn}", "-addext", f"subjectAltName=DNS:{cn}",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def plain_http(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET /secure/x HTTP/1.1\r\nHost: site.test\r\n\r\n")
        try:
            return s.recv(4096)
        except OSError:
            return b""


def peer_cn(port: int, server_name: str | None) -> str:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname=server_name) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    pem = ssl.DER_cert_to_PEM_cert(der)
    out = subprocess.run(["openssl", "x509", "-noout", "-subject"], input=pem,
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    return out.strip().rsplit("CN", 1)[1].lstrip(" =")


async def test_https_listener_with_a_file_source(consul: Catalog, tmp_path: Path) -> None:
    cert, key = make_cert(tmp_path, "site", "site.test")
    up = await start_upstream("tls-a")
    consul.register("tls-a", "tls-svc", up.port, ["urlprefix-/secure"])
    router = second_router(
        consul.addr,
        proxy_addr="127.0.0.1:0;proto=https;cs=site",
        cert_sources=f"cs=site;type=file;cert={cert};key={key}",
        tls_header="X-Tls",
        tls_header_value="on",
        sts_value="max-age=31536000; includeSubdomains",
        register=False,
    )
    await router.start()
    try:
        await router.wait_ready()
        port = router.config.listeners[0].port
        assert router.config.proxy_addr.endswith(";proto=https;cs=site")
        ctx = ssl.create_default_context(cafile=str(cert))
        url = f"https://site.test:{port}/secure/x"
        resolver = {"site.test": "127.0.0.1"}

        class Resolve(aiohttp.abc.AbstractResolver):
            async def resolve(self, host: str, port: int = 0, family: int = 0) -> list[dict]:
                return [{"hostname": host, "host": resolver[host], "port": port,
                         "family": socket.AF_INET, "proto": 0, "flags": 0}]  # fmt: skip

            async def close(self) -> None:
                pass

        conn = aiohttp.TCPConnector(resolver=Resolve(), ssl=ctx)
        async with aiohttp.ClientSession(connector=conn) as session:
            await until_answers(session, url)
            # proxy.header.tls is the router's to set: a client's own is replaced.
            async with session.get(url, headers={"Host": "site.test", "X-Tls": "forged"}) as r:
                body = json.loads(await r.text())
                assert r.headers["Strict-Transport-Security"] == (
                    "max-age=31536000; includeSubdomains"
                )
        headers = body["headers"]
        assert headers["x-tls"] == "on"
        assert headers["x-forwarded-proto"] == "https"
        assert headers["x-forwarded-port"] == "443"  # no port in Host: the scheme's
        assert "proto=https" in headers["forwarded"]
        # Plain HTTP to a TLS listener is refused, not served.
        assert b"200 OK" not in await asyncio.to_thread(plain_http, port)
    finally:
        await router.stop()
        consul.deregister("tls-a")
        await up.runner.cleanup()


async def test_path_source_chooses_the_certificate_by_sni(consul: Catalog, tmp_path: Path) -> None:
    certs = tmp_path / "certs"
    certs.mkdir()
    make_cert(certs, "a.test", "a.test")
    make_cert(certs, "b.test", "b.test")
    router = second_router(
        consul.addr,
        proxy_addr="127.0.0.1:0;proto=https;cs=dir;tlsmin=tls12",
        cert_sources=f"cs=dir;type=path;cert={certs}",
        register=False,
    )
    await router.start()
    try:
        port = router.config.listeners[0].port
        # (blocking sockets: in a thread, so that the router's loop keeps running)
        assert await asyncio.to_thread(peer_cn, port, "b.test") == "b.test"
        assert await asyncio.to_thread(peer_cn, port, "a.test") == "a.test"
        # No SNI, or a name without a certificate: the first, alphabetically.
        assert await asyncio.to_thread(peer_cn, port, None) == "a.test"
        assert await asyncio.to_thread(peer_cn, port, "other.test") == "a.test"
    finally:
        await router.stop()


async def test_path_source_refresh_reads_new_certificates(consul: Catalog, tmp_path: Path) -> None:
    certs = tmp_path / "certs"
    certs.mkdir()
    make_cert(certs, "a.test", "a.test")
    router = second_router(
        consul.addr,
        proxy_addr="127.0.0.1:0;proto=https;cs=dir",
        cert_sources=f"cs=dir;type=path;cert={certs};refresh=1s",
        register=False,
    )
    await router.start()
    try:
        port = router.config.listeners[0].port
        assert await asyncio.to_thread(peer_cn, port, "b.test") == "a.test"  # not there yet
        make_cert(certs, "b.test", "b.test")

        async def b_served() -> bool:
            return await asyncio.to_thread(peer_cn, port, "b.test") == "b.test"

        await until(b_served)
        # A certificate that cannot be read keeps what was read before.
        (certs / "c.test.pem").write_text("not a certificate")
        await asyncio.sleep(1.5)  # past the next look
        assert await asyncio.to_thread(peer_cn, port, "b.test") == "b.test"
    finally:
        await router.stop()


async def test_ui_over_tls_with_an_https_check(consul: Catalog, tmp_path: Path) -> None:
    cert, key = make_cert(tmp_path, "ui", "localhost")
    router = second_router(
        consul.addr,
        ui_addr="127.0.0.1:0;cs=ui",
        cert_sources=f"cs=ui;type=file;cert={cert};key={key}",
        service_name="fabio-tls-ui",
        check_tls_skip_verify=True,
    )
    await router.start()
    try:
        port = router.config.ui_port
        assert router.config.ui_addr == f"127.0.0.1:{port};cs=ui"  # the options stay
        ctx = ssl.create_default_context(cafile=str(cert))
        url = f"https://localhost:{port}/health"
        async with aiohttp.ClientSession() as session, session.get(url, ssl=ctx) as r:
            assert (r.status, await r.text()) == (200, "OK")
        sid = router.service_id
        [check] = [
            c for c in consul.checks().values() if c["ServiceID"] == sid and c["Type"] == "http"
        ]
        assert check["Definition"]["HTTP"] == f"https://127.0.0.1:{port}/health"

        # The catalog runs the https check (without verifying, as configured): passing.
        def passing() -> bool:
            return consul.checks()[check["CheckID"]]["Status"] == "passing"

        await until(passing)
        # `yurt router routes` reads the table over TLS too.
        consul.register("ui-tls", "ui-tls", 4321, ["urlprefix-/ui-tls"])
        await until(lambda: "/ui-tls" in str(router.settings.table))
        out = await asyncio.to_thread(
            subprocess.run,
            [
                sys.executable,
                "-m",
                "yurt",
                "router",
                "routes",
                "-ui.addr",
                f"127.0.0.1:{port};cs=ui",
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert out.returncode == 0, out.stderr
        assert "route add ui-tls /ui-tls http://127.0.0.1:4321/\n" in out.stdout
    finally:
        await router.stop()
        consul.deregister("ui-tls")


async def test_tlsciphers_choose_the_cipher_suites(consul: Catalog, tmp_path: Path) -> None:
    cert, key = make_cert(tmp_path, "site", "site.test")
    router = second_router(
        consul.addr,
        # Fabio's form: Go names or numbers, quoted because of the comma
        proxy_addr=(
            "127.0.0.1:0;proto=https;cs=site;tlsmax=tls12;"
            'tlsciphers="TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,0xc02f"'
        ),
        cert_sources=f"cs=site;type=file;cert={cert};key={key}",
        register=False,
    )
    await router.start()
    try:
        port = router.config.listeners[0].port

        def negotiated(client_ciphers: str) -> str:
            ctx = ssl.create_default_context(cafile=str(cert))
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
            ctx.set_ciphers(client_ciphers)
            with (
                socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
                ctx.wrap_socket(raw, server_hostname="site.test") as tls,
            ):
                cipher = tls.cipher()
                assert cipher is not None
                return cipher[0]

        got = await asyncio.to_thread(negotiated, "ECDHE-RSA-AES128-GCM-SHA256")
        assert got == "ECDHE-RSA-AES128-GCM-SHA256"
        with pytest.raises(ssl.SSLError):  # a suite the listener was not given
            await asyncio.to_thread(negotiated, "ECDHE-RSA-CHACHA20-POLY1305")
    finally:
        await router.stop()

"""A real HTTP/2 server on loopback for the gRPC and H2PING check tests: it answers
`grpc.health.v1.Health/Check` with the status the test sets per service (an unknown service
gets gRPC's NOT_FOUND, as grpc-go's health server), and acknowledges PINGs. Plain (h2c) or
TLS with ALPN h2. Built on the `h2` package, in the test's own event loop."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import h2.config
import h2.connection
import h2.events
import h2.exceptions
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from yurt.catalog.check_h2 import HEALTH_PATH

SERVING, NOT_SERVING = 1, 2


def response_message(status: int) -> bytes:
    body = b"\x08" + bytes([status]) if status else b""
    return b"\x00" + len(body).to_bytes(4, "big") + body


@dataclass
class H2Target:
    statuses: dict[str, int] = field(default_factory=lambda: {"": SERVING})
    port: int = 0
    # paths asked, in order: what the checks sent
    calls: list[str] = field(default_factory=list)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
        conn.initiate_connection()
        writer.write(conn.data_to_send())
        bodies: dict[int, bytes] = {}
        paths: dict[int, str] = {}
        try:
            while data := await reader.read(65536):
                for event in conn.receive_data(data):
                    if isinstance(event, h2.events.RequestReceived):
                        headers = {
                            (k.decode() if isinstance(k, bytes) else k): (
                                v.decode() if isinstance(v, bytes) else v
                            )
                            for k, v in event.headers or []
                        }
                        paths[event.stream_id or 0] = headers.get(":path", "")
                    elif isinstance(event, h2.events.DataReceived):
                        sid = event.stream_id or 0
                        bodies[sid] = bodies.get(sid, b"") + (event.data or b"")
                    elif isinstance(event, h2.events.StreamEnded):
                        sid = event.stream_id or 0
                        self._answer(conn, sid, paths.get(sid, ""), bodies.pop(sid, b""))
                writer.write(conn.data_to_send())
                await writer.drain()
        except (ConnectionError, h2.exceptions.ProtocolError):
            pass
        finally:
            writer.close()

    def _answer(self, conn: h2.connection.H2Connection, sid: int, path: str, body: bytes) -> None:
        service = body[7:].decode() if len(body) > 7 else ""
        self.calls.append(f"{path} {service}")
        if path != HEALTH_PATH:
            conn.send_headers(sid, [(":status", "200"), ("content-type", "application/grpc")])
            conn.send_headers(sid, [("grpc-status", "12"), ("grpc-message", "unknown method")])
            conn.end_stream(sid)
            return
        conn.send_headers(sid, [(":status", "200"), ("content-type", "application/grpc")])
        if service not in self.statuses:
            conn.send_headers(
                sid, [("grpc-status", "5"), ("grpc-message", "unknown service")], end_stream=True
            )
            return
        conn.send_data(sid, response_message(self.statuses[service]))
        conn.send_headers(sid, [("grpc-status", "0")], end_stream=True)


@asynccontextmanager
async def h2_target(tls: ssl.SSLContext | None = None) -> AsyncIterator[H2Target]:
    target = H2Target()
    server = await asyncio.start_server(target._serve, "127.0.0.1", 0, ssl=tls)
    target.port = server.sockets[0].getsockname()[1]
    try:
        yield target
    finally:
        server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 2)


def self_signed_context(directory: Path) -> ssl.SSLContext:
    """A server context with a throwaway self-signed certificate for 127.0.0.1 (made with
    `cryptography`, in process), offering ALPN h2."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "h2.pem", directory / "h2-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert_path, key_path)
    ctx.set_alpn_protocols(["h2"])
    return ctx

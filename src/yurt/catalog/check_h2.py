"""gRPC and H2PING checks: HTTP/2 probes as Consul's agent runs them (with the `h2` package).

A gRPC check (`GRPC: "host:port[/service]"`, `GRPCUseTLS`) calls the standard health
service, `grpc.health.v1.Health/Check`, and passes when it answers SERVING. An H2PING
check (`H2PING: "host:port"`, `H2PingUseTLS`, on by default as in Consul) opens an HTTP/2
connection and passes when the server acknowledges a PING. TLS offers ALPN `h2` and honours
`TLSSkipVerify`; without TLS both speak HTTP/2 with prior knowledge (h2c), as grpc-go and
Go's http2 transport do. Output texts are Consul's (checked against consul 1.10.11).

The protocol pieces (gRPC's message framing, the two protobuf messages, the status names)
are pure functions; `probe_grpc` and `probe_h2ping` do the I/O.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
from collections.abc import Iterable
from dataclasses import dataclass, field

import h2.config
import h2.connection
import h2.events
import h2.exceptions

from yurt.catalog.model import CRITICAL, PASSING

HEALTH_PATH = "/grpc.health.v1.Health/Check"
# grpc.health.v1.HealthCheckResponse.ServingStatus
SERVING_STATUS = {0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}
# gRPC's status codes, as grpc-go names them in its errors
GRPC_CODES = {
    0: "OK",
    1: "Canceled",
    2: "Unknown",
    3: "InvalidArgument",
    4: "DeadlineExceeded",
    5: "NotFound",
    6: "AlreadyExists",
    7: "PermissionDenied",
    8: "ResourceExhausted",
    9: "FailedPrecondition",
    10: "Aborted",
    11: "OutOfRange",
    12: "Unimplemented",
    13: "Internal",
    14: "Unavailable",
    15: "DataLoss",
    16: "Unauthenticated",
}
_READ = 64 * 1024
# the most of a response kept: a health answer is a few bytes
_MAX_BODY = 64 * 1024


class ProbeError(Exception):
    """A failed probe; the message is the check's output."""


def split_target(target: str) -> tuple[str, int, str]:
    """(host, port, service) of Consul's `host:port/service` gRPC target; ValueError with
    Go's dial text when the address has no port."""
    server, _, service = target.partition("/")
    host, sep, port = server.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"dial tcp: address {server}: missing port in address")
    return host.strip("[]"), int(port), service


def tls_failure(exc: ssl.SSLError) -> str:
    """Go's crypto/tls text for the common handshake failures, Python's otherwise."""
    if "WRONG_VERSION_NUMBER" in str(exc) or "record layer failure" in str(exc):
        return "tls: first record does not look like a TLS handshake"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"x509: {exc.verify_message}"
    return f"tls: {exc.reason or exc}"


def _dial_failure(reason: str) -> str:
    return grpc_error(
        14,
        "all SubConns are in TransientFailure, latest connection error: connection error: "
        f'desc = "transport: {reason}"',
    )


def encode_request(service: str) -> bytes:
    """A gRPC message (flag, length, body) holding HealthCheckRequest{service}."""
    raw = service.encode()
    body = b"\x0a" + _varint(len(raw)) + raw if raw else b""
    return b"\x00" + len(body).to_bytes(4, "big") + body


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    shift = value = 0
    while pos < len(data):
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
    raise ValueError("truncated varint")


def decode_status(message: bytes) -> int:
    """HealthCheckResponse.status (field 1) of one gRPC message; 0 when absent (proto3)."""
    if len(message) < 5:
        raise ValueError("short gRPC message")
    if message[0] != 0:
        raise ValueError("compressed gRPC message")
    length = int.from_bytes(message[1:5], "big")
    body = message[5 : 5 + length]
    pos, status = 0, 0
    while pos < len(body):
        key, pos = _read_varint(body, pos)
        kind = key & 7
        if kind == 0:
            value, pos = _read_varint(body, pos)
            if key >> 3 == 1:
                status = value
        elif kind == 2:
            size, pos = _read_varint(body, pos)
            pos += size
        else:
            raise ValueError(f"unexpected protobuf wire type {kind}")
    return status


def grpc_error(code: int, message: str) -> str:
    return f"rpc error: code = {GRPC_CODES.get(code, f'Code({code})')} desc = {message}"


def tls_context(skip_verify: bool) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    if skip_verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["h2"])
    return ctx


@dataclass
class _Conn:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    h2: h2.connection.H2Connection
    events: list[object] = field(default_factory=list)

    async def flush(self) -> None:
        self.writer.write(self.h2.data_to_send())
        await self.writer.drain()

    async def next_event(self) -> object:
        while not self.events:
            data = await self.reader.read(_READ)
            if not data:
                raise ProbeError("connection closed by the server")
            self.events.extend(self.h2.receive_data(data))
            await self.flush()  # SETTINGS and PING acknowledgements
        return self.events.pop(0)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            self.h2.close_connection()
            self.writer.write(self.h2.data_to_send())
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()


async def _connect(host: str, port: int, ctx: ssl.SSLContext | None) -> _Conn:
    reader, writer = await asyncio.open_connection(
        host, port, ssl=ctx, server_hostname=host if ctx else None
    )
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    c = _Conn(reader, writer, conn)
    await c.flush()
    return c


async def _grpc_call(host: str, port: int, service: str, ctx: ssl.SSLContext | None) -> int:
    """The serving status the health service answers; ProbeError with grpc-go's text."""
    try:
        conn = await _connect(host, port, ctx)
    except ssl.SSLError as exc:
        reason = f"authentication handshake failed: {tls_failure(exc)}"
        raise ProbeError(_dial_failure(reason)) from None
    except OSError as exc:
        raise ProbeError(_unavailable(host, port, exc)) from None
    try:
        sid = conn.h2.get_next_available_stream_id()
        conn.h2.send_headers(
            sid,
            [
                (":method", "POST"),
                (":scheme", "https" if ctx else "http"),
                (":path", HEALTH_PATH),
                (":authority", f"{host}:{port}"),
                ("content-type", "application/grpc"),
                ("te", "trailers"),
                ("user-agent", "grpc-go/1.25.1 (yurt)"),
            ],
        )
        conn.h2.send_data(sid, encode_request(service), end_stream=True)
        await conn.flush()
        body, headers = bytearray(), {}
        while True:
            event = await conn.next_event()
            if isinstance(event, h2.events.ResponseReceived | h2.events.TrailersReceived):
                headers.update(_text_headers(event.headers or []))
            elif isinstance(event, h2.events.DataReceived):
                body += event.data or b""
                conn.h2.acknowledge_received_data(event.flow_controlled_length, sid)
                if len(body) > _MAX_BODY:
                    raise ProbeError(grpc_error(8, "response too large"))
            elif isinstance(event, h2.events.StreamReset):
                raise ProbeError(
                    grpc_error(
                        13, f"stream terminated by RST_STREAM with error code: {event.error_code}"
                    )
                )
            elif isinstance(event, h2.events.ConnectionTerminated):
                raise ProbeError(grpc_error(14, "the server closed the connection"))
            elif isinstance(event, h2.events.StreamEnded):
                break
        return _grpc_result(headers, bytes(body))
    except h2.exceptions.ProtocolError as exc:
        raise ProbeError(grpc_error(13, f"HTTP/2 protocol error: {exc}")) from None
    finally:
        await conn.close()


def _text_headers(raw: Iterable[tuple[bytes | str, bytes | str]]) -> dict[str, str]:
    def text(v: bytes | str) -> str:
        return v.decode("utf-8", "replace") if isinstance(v, bytes) else v

    return {text(k): text(v) for k, v in raw}


def _grpc_result(headers: dict[str, str], body: bytes) -> int:
    http_status = headers.get(":status", "")
    if http_status != "200":
        raise ProbeError(
            grpc_error(2, f"unexpected HTTP status code received from server: {http_status}")
        )
    code = int(headers.get("grpc-status", "2") or 2)
    if code != 0:
        raise ProbeError(grpc_error(code, headers.get("grpc-message", "")))
    try:
        return decode_status(body)
    except ValueError as exc:
        raise ProbeError(grpc_error(13, f"failed to decode the response: {exc}")) from None


def _unavailable(host: str, port: int, exc: OSError) -> str:
    reason = f"Error while dialing dial tcp {host}:{port}: {_os_reason(exc)}"
    return _dial_failure(reason)


def _os_reason(exc: OSError) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connect: connection refused"
    return (exc.strerror or str(exc)).lower()


async def probe_grpc(
    target: str, *, use_tls: bool, skip_verify: bool, timeout_s: float
) -> tuple[str, str]:
    """(status, output) of one gRPC health check."""
    try:
        host, port, service = split_target(target)
    except ValueError as exc:
        return CRITICAL, _dial_failure(f"Error while dialing {exc}")
    ctx = tls_context(skip_verify) if use_tls else None
    try:
        status = await asyncio.wait_for(_grpc_call(host, port, service, ctx), timeout_s)
    except TimeoutError:
        return CRITICAL, grpc_error(4, "context deadline exceeded")
    except ProbeError as exc:
        return CRITICAL, str(exc)
    except (OSError, ssl.SSLError) as exc:
        return CRITICAL, grpc_error(14, f"connection error: {exc}")
    if status != 1:
        name = SERVING_STATUS.get(status, str(status))
        return CRITICAL, f"gRPC {target} serving status: {name}"
    return PASSING, f"gRPC check {target}: success"


async def _ping(conn: _Conn) -> None:
    conn.h2.ping(os.urandom(8))
    await conn.flush()
    while True:
        event = await conn.next_event()
        if isinstance(event, h2.events.PingAckReceived):
            return
        if isinstance(event, h2.events.ConnectionTerminated):
            raise ProbeError("connection terminated by the server")


async def probe_h2ping(
    target: str, *, use_tls: bool, skip_verify: bool, timeout_s: float
) -> tuple[str, str]:
    """(status, output) of one H2PING check."""
    host, sep, port = target.rpartition(":")
    if not sep or not port.isdigit():
        return (
            CRITICAL,
            f"Failed to dial to {target}: dial tcp: address {target}: missing port in address",
        )
    ctx = tls_context(skip_verify) if use_tls else None
    try:
        conn = await asyncio.wait_for(_connect(host.strip("[]"), int(port), ctx), timeout_s)
    except TimeoutError:
        return CRITICAL, f"Failed to dial to {target}: dial tcp {target}: i/o timeout"
    except ssl.SSLError as exc:
        return CRITICAL, f"Failed to dial to {target}: {tls_failure(exc)}"
    except OSError as exc:
        return CRITICAL, f"Failed to dial to {target}: dial tcp {target}: {_os_reason(exc)}"
    try:
        await asyncio.wait_for(_ping(conn), timeout_s)
    except TimeoutError:
        return CRITICAL, "HTTP2 ping failed: context deadline exceeded"
    except (ProbeError, OSError, h2.exceptions.ProtocolError) as exc:
        return CRITICAL, f"HTTP2 ping failed: {exc}"
    finally:
        await conn.close()
    return PASSING, "HTTP2 ping was successful"

"""The server name a TLS client asks for, read from its ClientHello without decrypting.

`proto=tcp+sni` listeners route a TLS connection by this name (Fabio's TCP-SNI proxy): the
first TLS record is read, the `server_name` extension (RFC 6066) found in the ClientHello,
and the record is then replayed to the upstream as it came.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_RECORD = 5 + 16384 + 2048
"""The most a ClientHello record may take (header, payload, allowed expansion)."""


class NotClientHello(ValueError):
    """The bytes are not the start of a TLS handshake with a ClientHello."""


@dataclass(frozen=True, slots=True)
class ClientHello:
    server_name: str  # "" when the client sent none
    record_length: int  # bytes of the first record, header included


def read_client_hello(data: bytes) -> ClientHello | None:
    """Parse the first record of a TLS connection; None while more bytes are needed."""
    if len(data) < 5:
        if data and data[0] != 0x16:
            raise NotClientHello("not a TLS handshake record")
        return None
    if data[0] != 0x16 or data[1] != 0x03:
        raise NotClientHello("not a TLS handshake record")
    length = int.from_bytes(data[3:5], "big")
    if length + 5 > MAX_RECORD:
        raise NotClientHello(f"record of {length} bytes is too long")
    if len(data) < 5 + length:
        return None
    body = memoryview(data)[5 : 5 + length]
    return ClientHello(_server_name(body), 5 + length)


def _server_name(msg: memoryview) -> str:
    if len(msg) < 4 or msg[0] != 0x01:
        raise NotClientHello("the first handshake message is not a ClientHello")
    # A ClientHello split over several records is not read (clients do not do this for the
    # sizes seen in practice); the part that is here is read as far as it goes.
    end = min(len(msg), 4 + int.from_bytes(msg[1:4], "big"))
    pos = 4 + 2 + 32  # message header, client_version, random
    pos = _skip(msg, pos, 1, end)  # session_id
    pos = _skip(msg, pos, 2, end)  # cipher_suites
    pos = _skip(msg, pos, 1, end)  # compression_methods
    if pos + 2 > end:
        return ""  # no extensions at all
    ext_end = min(end, pos + 2 + int.from_bytes(msg[pos : pos + 2], "big"))
    pos += 2
    while pos + 4 <= ext_end:
        kind = int.from_bytes(msg[pos : pos + 2], "big")
        size = int.from_bytes(msg[pos + 2 : pos + 4], "big")
        pos += 4
        if pos + size > ext_end:
            raise NotClientHello("truncated extension")
        if kind == 0:  # server_name
            return _host_name(msg[pos : pos + size])
        pos += size
    return ""


def _host_name(ext: memoryview) -> str:
    if len(ext) < 2:
        raise NotClientHello("empty server_name extension")
    end = min(len(ext), 2 + int.from_bytes(ext[0:2], "big"))
    pos = 2
    while pos + 3 <= end:
        name_type = ext[pos]
        size = int.from_bytes(ext[pos + 1 : pos + 3], "big")
        pos += 3
        if pos + size > end:
            raise NotClientHello("truncated server name")
        if name_type == 0:  # host_name
            try:
                return bytes(ext[pos : pos + size]).decode("ascii").lower()
            except UnicodeDecodeError:
                raise NotClientHello("server name is not ASCII") from None
        pos += size
    return ""


def _skip(msg: memoryview, pos: int, width: int, end: int) -> int:
    if pos + width > end:
        raise NotClientHello("truncated ClientHello")
    size = int.from_bytes(msg[pos : pos + width], "big")
    if pos + width + size > end:
        raise NotClientHello("truncated ClientHello")
    return pos + width + size

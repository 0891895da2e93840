"""Reading the server name from a ClientHello, on the bytes OpenSSL itself sends."""

from __future__ import annotations

import ssl

import pytest

from yurt.router.sni import MAX_RECORD, NotClientHello, read_client_hello


def client_hello(server_name: str | None, *, tls13: bool = True) -> bytes:
    """The first bytes a Python (OpenSSL) TLS client sends."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if not tls13:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname=server_name)
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    return outgoing.read()


@pytest.mark.parametrize("tls13", [True, False])
def test_server_name_of_a_real_client_hello(tls13: bool) -> None:
    data = client_hello("Shop.Example.COM", tls13=tls13)
    hello = read_client_hello(data)
    assert hello is not None
    assert hello.server_name == "shop.example.com"  # host names compare lower-cased
    assert hello.record_length == len(data)


def test_no_server_name() -> None:
    # An IP address is not sent as SNI (RFC 6066): no name to route by.
    hello = read_client_hello(client_hello("127.0.0.1"))
    assert hello is not None and hello.server_name == ""
    hello = read_client_hello(client_hello(None))
    assert hello is not None and hello.server_name == ""


def test_more_bytes_are_needed_until_the_record_is_complete() -> None:
    data = client_hello("a.test")
    for cut in (0, 1, 4, 5, 40, len(data) - 1):
        assert read_client_hello(data[:cut]) is None, cut
    hello = read_client_hello(data + b"more bytes of the connection")
    assert hello is not None and hello.server_name == "a.test"


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"GET / HTTP/1.1\r\n\r\n", "not a TLS handshake record"),
        (b"G", "not a TLS handshake record"),
        (b"\x17\x03\x03\x00\x05hello", "not a TLS handshake record"),
        (b"\x16\x03\x01" + (MAX_RECORD).to_bytes(2, "big"), "too long"),
        (b"\x16\x03\x01\x00\x04\x02\x00\x00\x00", "not a ClientHello"),
        (b"\x16\x03\x01\x00\x08\x01\x00\x00\x04\x03\x03\x00\x00", "truncated ClientHello"),
    ],
)
def test_not_a_client_hello(data: bytes, error: str) -> None:
    with pytest.raises(NotClientHello, match=error):
        read_client_hello(data)


def test_truncated_server_name_extension() -> None:
    data = bytearray(client_hello("abc.test"))
    at = data.find(b"abc.test")
    assert at > 0
    data[at - 2 : at] = (200).to_bytes(2, "big")  # the name claims more bytes than it has
    with pytest.raises(NotClientHello, match="truncated"):
        read_client_hello(bytes(data))

"""The router's request head under hostile input, against a real `yurt router` process and a
real upstream: bounded size (431 as Go's 1 MB MaxHeaderBytes, 414, a header count), flat
memory under a 200 MB header, a 4xx with a message for every malformed head, and Host and
Connection handled as Go's net/http and Fabio handle them."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from tests.router.hostile_support import (
    RouterProcess,
    echo_upstream,
    exchange,
    read_reply,
    start_router,
    vm_rss_kb,
)


@pytest.fixture(scope="module")
def router(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RouterProcess]:
    with echo_upstream() as up:
        routes = (
            f"route add svc / http://127.0.0.1:{up}/\n"
            f'route add abs abs.example/ http://127.0.0.1:{up}/ opts "prepend=/via-abs"'
        )
        r = start_router(tmp_path_factory.mktemp("router"), routes)
        try:
            yield r
        finally:
            r.proc.stop(timeout=5)


def seen(reply_body: bytes) -> dict[str, object]:
    """What the upstream received (its JSON echo)."""
    data = json.loads(reply_body)
    assert isinstance(data, dict)
    return {"path": data["path"], "headers": dict(data["headers"])}


def test_200_mb_header_gets_431_and_memory_stays_flat(router: RouterProcess) -> None:
    before = vm_rss_kb(router.pid)
    peak = before
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, vm_rss_kb(router.pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    replies = []
    sent_total = []
    try:
        for _ in range(3):
            with socket.create_connection(("127.0.0.1", router.proxy_port), timeout=10) as sock:
                sent = 0
                chunk = b"a" * 65536
                sock.sendall(b"GET / HTTP/1.1\r\nHost: a\r\nX-Big: ")
                try:
                    while sent < 200 << 20:
                        sock.sendall(chunk)
                        sent += len(chunk)
                except OSError:
                    pass  # the router stopped reading: what is wanted
                sent_total.append(sent)
                replies.append(read_reply(sock, timeout=5))
    finally:
        done.set()
        sampler.join()
    for reply in replies:
        assert reply is not None
        assert reply.status == 431
        assert reply.body.startswith(b"431 Request Header Fields Too Large")
        assert reply.header("Connection") == "close"
    # It stopped reading a little after the limit, not after 200 MB.
    assert all(s < 16 << 20 for s in sent_total), sent_total
    assert peak - before < 32 * 1024, (before, peak)
    assert router.alive()
    # And it serves as before.
    ok = exchange(router.proxy_port, b"GET /after HTTP/1.1\r\nHost: a\r\n\r\n")
    assert ok is not None and ok.status == 200


@pytest.mark.parametrize(
    ("name", "request_bytes", "status", "message"),
    [
        (
            "header count",
            b"GET / HTTP/1.1\r\nHost: a\r\n"
            + b"".join(b"X-H%d: v\r\n" % i for i in range(1001))
            + b"\r\n",
            431,
            b"more than 1000 header fields",
        ),
        (
            "request target",
            b"GET /" + b"a" * (64 * 1024) + b" HTTP/1.1\r\nHost: a\r\n\r\n",
            414,
            b"request target over 65536 bytes",
        ),
        (
            "head of 1 MB and a bit",
            b"GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + b"a" * ((1 << 20) + 8192) + b"\r\n\r\n",
            431,
            b"request head over 1048576 bytes",
        ),
        (
            "HTTP/1.0 and Transfer-Encoding",
            b"POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nhello\r\n0\r\n\r\n",
            400,
            b"Transfer-Encoding in an HTTP/1.0 request",
        ),
        (
            "chunk size overflow",
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"ffffffffffffffffffff\r\nhello\r\n0\r\n\r\n",
            400,
            b"Chunk size overflow",
        ),
        (
            "two Host headers",
            b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
            400,
            b"too many Host headers",
        ),
        (
            "HTTP/1.1 without Host",
            b"GET / HTTP/1.1\r\n\r\n",
            400,
            b"missing required Host header",
        ),
        (
            "absolute-form still needs Host on HTTP/1.1",
            b"GET http://abs.example/ HTTP/1.1\r\n\r\n",
            400,
            b"missing required Host header",
        ),
        ("Host with a space", b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, b"malformed Host"),
        ("Host with userinfo", b"GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", 400, b"malformed Host"),
        (
            "Content-Length twice",
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc",
            400,
            b"Duplicate Content-Length",
        ),
        (
            "Content-Length and Transfer-Encoding",
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            400,
            b"Transfer-Encoding",
        ),
        (
            "unknown transfer coding",
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
            501,
            b"Unsupported transfer encoding",
        ),
        ("bad header name", b"GET / HTTP/1.1\r\nHost: a\r\nBad Name: v\r\n\r\n", 400, b"header"),
        ("bad version", b"GET / HTTP/2.5\r\nHost: a\r\n\r\n", 400, b"version"),
    ],
)
def test_malformed_heads_get_a_4xx_with_a_message(
    router: RouterProcess, name: str, request_bytes: bytes, status: int, message: bytes
) -> None:
    reply = exchange(router.proxy_port, request_bytes)
    assert reply is not None, f"{name}: no reply"
    assert reply.status == status, (name, reply.head, reply.body)
    assert message in reply.body, (name, reply.body)
    assert reply.header("Content-Type") == "text/plain; charset=utf-8"
    assert reply.header("Connection") == "close"
    assert router.alive()


def get(target: str, host: str | None, version: str = "1.1") -> bytes:
    head = f"GET {target} HTTP/{version}\r\n" + (f"Host: {host}\r\n" if host is not None else "")
    return (head + "\r\n").encode()


@pytest.mark.parametrize(
    ("request_bytes", "path", "host"),
    [
        # RFC 9112 section 3.2.2: the absolute-form target's authority is the host.
        (get("http://abs.example/p", "other.example"), "/via-abs/p", "abs.example"),
        (get("http://abs.example", "other.example"), "/via-abs/", "abs.example"),
        (get("HTTP://ABS.EXAMPLE/q?x=1", "x"), "/via-abs/q?x=1", "ABS.EXAMPLE"),
        (get("http://elsewhere.example/p", "abs.example"), "/p", "elsewhere.example"),
        (get("/p", "abs.example"), "/via-abs/p", "abs.example"),
        (get("/p", ""), "/p", None),  # an empty Host: Go routes it
        (get("/p", None, "1.0"), "/p", None),  # HTTP/1.0 needs none
    ],
)
def test_host_table(
    router: RouterProcess, request_bytes: bytes, path: str, host: str | None
) -> None:
    reply = exchange(router.proxy_port, request_bytes)
    assert reply is not None and reply.status == 200, reply
    got = seen(reply.body)
    assert got["path"] == path
    headers = got["headers"]
    assert isinstance(headers, dict)
    # Without a Host from the client, the upstream gets the target's (as from Go's transport).
    assert headers["host"].startswith(host or "127.0.0.1:")
    if host:
        assert headers["x-forwarded-host"] == host


def test_headers_named_by_connection_are_not_forwarded(router: RouterProcess) -> None:
    reply = exchange(
        router.proxy_port,
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: X-Secret, keep-alive\r\n"
        b"X-Secret: s\r\nX-Other: o\r\nKeep-Alive: timeout=5\r\nX-Forwarded-For: 10.9.9.9\r\n"
        b"Connection: X-Forwarded-For\r\n\r\n",
    )
    assert reply is not None and reply.status == 200
    headers = seen(reply.body)["headers"]
    assert isinstance(headers, dict)
    assert "x-secret" not in headers and "keep-alive" not in headers
    assert "connection" not in headers
    assert headers["x-other"] == "o"
    # A named X-Forwarded-For is the client's hop-by-hop header: the router starts afresh.
    assert headers["x-forwarded-for"] == "127.0.0.1"


def test_options_star_is_answered_by_the_router(router: RouterProcess) -> None:
    reply = exchange(router.proxy_port, b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n")
    assert reply is not None and reply.status == 200
    assert reply.header("Content-Length") == "0"


def test_keep_alive_survives_a_good_request_after_a_refused_one_elsewhere(
    router: RouterProcess,
) -> None:
    """A refusal closes only its own connection."""
    with socket.create_connection(("127.0.0.1", router.proxy_port), timeout=5) as good:
        good.sendall(b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\n")
        first = read_reply(good)
        assert exchange(router.proxy_port, b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
        good.sendall(b"GET /2 HTTP/1.1\r\nHost: a\r\n\r\n")
        second = read_reply(good)
    assert first is not None and second is not None
    assert (first.status, second.status) == (200, 200)
    assert seen(second.body)["path"] == "/2"

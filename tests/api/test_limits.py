"""The API listeners' limits (`yurt.api.limits`): the tracker and the descriptor budget as
tables, and `start_site`'s listeners in this process: header-read and idle timeouts, the
per-client cap (Consul's 429, Nomad's close), 431 for a head that is too large, and a
request in progress that outlives every timeout."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.http_exceptions import BadHttpMessage, LineTooLong

from tests.support.process import free_port
from tests.support.tls_ca import make_ca
from yurt.api.http import start_site
from yurt.api.limits import (
    ADMITTED,
    OVER_CLIENT_CAP,
    OVER_RESERVE,
    TOO_MANY_CONNS,
    Burst,
    ConnectionTracker,
    DescriptorBudget,
    HTTPLimits,
    consul_limits,
    head_too_large,
    nomad_limits,
    reserve_for,
    too_many_conns_response,
)
from yurt.api.tls import TLSConfig
from yurt.catalog.config import CatalogConfig
from yurt.catalog.config_settings import SettingsError, load_settings
from yurt.catalog.config_settings import apply as apply_settings
from yurt.router.config import ConfigError as RouterConfigError
from yurt.router.config import RouterConfig

# --- pure parts -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("soft", "reserve"),
    [(256, 64), (1024, 128), (20000, 2500), (65536, 8192)],
)
def test_reserve_is_an_eighth_of_the_soft_limit_at_least_64(soft: int, reserve: int) -> None:
    assert reserve_for(soft) == reserve


@pytest.mark.parametrize(
    ("limit", "already", "ip", "fd", "want"),
    [
        (2, {}, "127.0.0.1", 10, ADMITTED),
        (2, {"127.0.0.1": 1}, "127.0.0.1", 10, ADMITTED),
        (2, {"127.0.0.1": 2}, "127.0.0.1", 10, OVER_CLIENT_CAP),
        (2, {"127.0.0.1": 2}, "127.0.0.2", 10, ADMITTED),  # the cap is per address
        (0, {"127.0.0.1": 800}, "127.0.0.1", 10, ADMITTED),  # 0: no cap
        (2, {}, "127.0.0.1", 992, OVER_RESERVE),  # a quiet listener: the floor, 1024 - 32
        (2, {}, "127.0.0.1", 991, ADMITTED),
    ],
)
def test_tracker_admits_by_client_cap_then_reserve(
    limit: int, already: dict[str, int], ip: str, fd: int, want: str
) -> None:
    tracker = ConnectionTracker(limit, DescriptorBudget(1024))
    for addr, n in already.items():
        for _ in range(n):
            assert tracker.admit(addr, 5) == ADMITTED
    assert tracker.admit(ip, fd) == want


def test_tracker_counts_only_admitted_and_frees_on_release() -> None:
    budget = DescriptorBudget(1024)
    tracker = ConnectionTracker(1, budget)
    assert tracker.admit("10.0.0.1", 5) == ADMITTED
    assert tracker.admit("10.0.0.1", 6) == OVER_CLIENT_CAP
    assert (tracker.counts, budget.open) == ({"10.0.0.1": 1}, 1)
    tracker.release("10.0.0.1")
    assert (tracker.counts, budget.open) == ({}, 0)
    assert tracker.admit("10.0.0.1", 5) == ADMITTED


def test_budget_refuses_a_busy_listener_at_the_reserve_and_a_quiet_one_at_the_floor() -> None:
    budget = DescriptorBudget(256)  # reserve 64, floor 16
    busy = sum(budget.admit(fd=3, held=100) for _ in range(300))
    assert busy == 192  # 256 - 64
    # Another listener, quiet (fewer than 16 of its own), still gets in, down to the floor.
    quiet = sum(budget.admit(fd=3, held=0) for _ in range(300))
    assert quiet == 256 - 16 - 192
    budget.release()
    assert budget.admit(fd=3, held=0)


@pytest.mark.parametrize(
    ("fd", "held", "want"),
    [(191, 20, True), (192, 20, False), (239, 0, True), (240, 0, False), (240, 15, False)],
)
def test_budget_reads_descriptors_in_use_from_the_new_ones_number(
    fd: int, held: int, want: bool
) -> None:
    assert DescriptorBudget(256).admit(fd, held) is want


def test_tracker_tells_the_budget_how_many_the_listener_holds() -> None:
    budget = DescriptorBudget(256)
    flooded = ConnectionTracker(0, budget)
    quiet = ConnectionTracker(0, budget)
    assert sum(flooded.admit("10.0.0.1", 3) == ADMITTED for _ in range(300)) == 192
    assert flooded.admit("10.0.0.1", 3) == OVER_RESERVE
    assert quiet.admit("10.0.0.2", 3) == ADMITTED
    assert (flooded.total, quiet.total, budget.open) == (192, 1, 193)


def test_refusals_are_logged_once_per_burst() -> None:
    burst = Burst()
    starts = [burst.note(t) for t in (0.0, 1.0, 5.0, 14.0, 30.0, 31.0)]
    assert starts == [True, False, False, False, True, False]


def test_client_cap_and_reserve_bursts_are_logged_apart() -> None:
    tracker = ConnectionTracker(1, DescriptorBudget(1024))
    assert tracker.burst.note(0.0)
    assert tracker.budget.burst.note(1.0)


@pytest.mark.parametrize(
    ("exc", "want"),
    [
        (LineTooLong("too long", "8190", "9000"), True),
        (BadHttpMessage("Too many headers received"), True),
        (BadHttpMessage("Invalid method"), False),
        (None, False),
    ],
)
def test_head_too_large(exc: BaseException | None, want: bool) -> None:
    assert head_too_large(exc) is want


@pytest.mark.parametrize(
    ("limits", "conns", "answer"),
    [(nomad_limits(), 100, False), (consul_limits(), 200, True), (HTTPLimits(), 100, True)],
)
def test_product_defaults(limits: HTTPLimits, conns: int, answer: bool) -> None:
    assert (limits.max_conns_per_client, limits.answer_429) == (conns, answer)
    assert limits.handshake_timeout == 5.0


def test_idle_timeout_zero_means_never_not_at_once() -> None:
    assert HTTPLimits(idle_timeout=0).handler_args()["keepalive_timeout"] > 86400


def test_429_text_is_consuls_then_says_how_to_raise_it() -> None:
    raw = too_many_conns_response("127.0.0.1", consul_limits(max_conns_per_client=3))
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 429 Too Many Requests\r\n")
    assert f"Content-Length: {len(body)}".encode() in head
    lines = body.decode().splitlines()
    assert lines[0] == TOO_MANY_CONNS
    assert "more than 3 open connections from 127.0.0.1" in lines[1]
    assert "http_max_conns_per_client" in lines[1]


# --- listeners in this process --------------------------------------------------------------


async def _ok(request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def _slow(request: web.Request) -> web.Response:
    await asyncio.sleep(float(request.query.get("wait", "1")))
    return web.Response(text="slow ok")


async def serve(limits: HTTPLimits) -> tuple[web.AppRunner, int]:
    app = web.Application()
    app.router.add_get("/ok", _ok)
    app.router.add_get("/slow", _slow)
    port = free_port()
    return await start_site(app, "127.0.0.1", port, limits=limits), port


@pytest.fixture
async def fast() -> AsyncIterator[int]:
    runner, port = await serve(
        HTTPLimits(header_timeout=0.3, idle_timeout=0.5, max_conns_per_client=3)
    )
    yield port
    await runner.cleanup()


async def _closed_after(reader: asyncio.StreamReader, limit: float) -> float:
    """Seconds until the server closes the connection (EOF), failing after `limit`."""
    start = time.monotonic()
    data = await asyncio.wait_for(reader.read(), limit)
    assert data == b""
    return time.monotonic() - start


GET_OK = b"GET /ok HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


async def test_a_slow_head_is_closed_after_the_header_timeout(fast: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", fast)
    writer.write(b"GET /ok HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never finished
    took = await _closed_after(reader, 3)
    assert 0.2 < took < 1.5
    writer.close()


async def test_a_silent_connection_is_closed_after_the_header_timeout(fast: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", fast)
    took = await _closed_after(reader, 3)
    assert took < 1.5
    writer.close()


async def test_keep_alive_idles_for_the_idle_timeout_then_closes(fast: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", fast)
    for _ in range(2):  # idle 0.35 s (< 0.5) between requests is kept
        writer.write(GET_OK)
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200")
        await reader.readexactly(2)
        await asyncio.sleep(0.35)
    took = await _closed_after(reader, 3)
    assert took < 1.0
    writer.close()


async def test_the_next_requests_slow_head_gets_the_header_timeout(fast: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", fast)
    writer.write(GET_OK)
    await reader.readuntil(b"\r\n\r\n")
    await reader.readexactly(2)
    writer.write(b"GET /ok HTTP/1.1\r\n")  # starts the next head, never ends it
    start = time.monotonic()
    assert await asyncio.wait_for(reader.read(), 3) == b""
    assert 0.2 < time.monotonic() - start < 1.5
    writer.close()


async def test_a_request_in_progress_outlives_every_timeout(fast: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", fast)
    writer.write(b"GET /slow?wait=1.2 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 200")
    assert await reader.readexactly(7) == b"slow ok"
    writer.close()


def _connect(port: int, source: str = "127.0.0.1") -> socket.socket:
    s = socket.socket()
    s.bind((source, 0))
    s.settimeout(3)
    s.connect(("127.0.0.1", port))
    return s


def _get(s: socket.socket) -> bytes:
    s.sendall(GET_OK)
    data = b""
    while b"ok" not in data:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


@pytest.mark.parametrize("answer_429", [True, False])
async def test_over_the_cap_a_client_is_refused_and_others_are_served(answer_429: bool) -> None:
    runner, port = await serve(HTTPLimits(max_conns_per_client=3, answer_429=answer_429))
    try:

        def probe() -> tuple[list[bytes], bytes, bytes]:
            held = [_connect(port) for _ in range(3)]
            answers = [_get(s) for s in held]
            extra = _connect(port)
            refused = extra.recv(4096)  # the server speaks first, or closes
            other = _get(_connect(port, "127.0.0.2"))
            for s in held:
                s.close()
            return answers, refused, other

        answers, refused, other = await asyncio.to_thread(probe)
        assert all(a.startswith(b"HTTP/1.1 200") for a in answers)
        if answer_429:
            assert refused.startswith(b"HTTP/1.1 429 Too Many Requests")
            assert TOO_MANY_CONNS.encode() in refused
        else:
            assert refused == b""  # Nomad: closed without a word
        assert other.startswith(b"HTTP/1.1 200")
        # Closed connections are released: the first address is served again.
        await asyncio.sleep(0.2)
        assert (await asyncio.to_thread(lambda: _get(_connect(port)))).startswith(b"HTTP/1.1 200")
    finally:
        await runner.cleanup()


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        b"GET /ok HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n",
        b"GET /ok HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        + b"".join(b"X-%d: 1\r\n" % i for i in range(200))
        + b"\r\n",
    ],
    ids=["request-line", "header-field", "header-count"],
)
async def test_a_head_too_large_is_431(fast: int, request_bytes: bytes) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", fast)
    writer.write(request_bytes)
    answer = await asyncio.wait_for(reader.read(), 3)
    # aiohttp answers a head it could not parse as HTTP/1.0.
    status_line = answer.split(b"\r\n", 1)[0]
    assert status_line.endswith(b" 431 Request Header Fields Too Large"), answer[:80]
    assert len(answer) < 2048  # the refused bytes are not echoed back
    assert b"header fields" in answer
    writer.close()


async def test_a_malformed_head_is_400_not_500(fast: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", fast)
    writer.write(b"G\x00T /ok HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    answer = await asyncio.wait_for(reader.read(), 3)
    assert answer.split(b"\r\n", 1)[0].endswith(b" 400 Bad Request"), answer[:80]
    writer.close()


# --- Consul's `limits { }` in the catalog's config files ------------------------------------


def test_catalog_config_files_set_the_catalogs_limits(tmp_path: Path) -> None:
    (tmp_path / "a.hcl").write_text(
        'limits {\n  http_max_conns_per_client = 300\n  https_handshake_timeout = "3s"\n}\n'
    )
    (tmp_path / "b.json").write_text('{"limits": {"http_read_header_timeout": "1s"}}')
    cfg = CatalogConfig()
    apply_settings(load_settings([tmp_path]), cfg)
    limits = cfg.http_limits
    assert (
        limits.max_conns_per_client,
        limits.handshake_timeout,
        limits.header_timeout,
        limits.idle_timeout,
        limits.answer_429,  # Consul answers 429
    ) == (300, 3.0, 1.0, 60.0, True)


def test_catalog_limits_default_to_consuls() -> None:
    assert CatalogConfig().http_limits.max_conns_per_client == 200


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "limits {\n  rpc_rate = 10\n}\n",
            ":2:3: yurt's catalog does not support \"limits.rpc_rate\": yurt's catalog has no "
            "server RPC",
        ),
        (
            'limits {\n  request_limits {\n    mode = "enforcing"\n  }\n}\n',
            ':2:3: yurt\'s catalog does not support "limits.request_limits"',
        ),
        (
            'limits {\n  http_max_conns_per_client = "many"\n}\n',
            ':2:3: "limits.http_max_conns_per_client": expected a number of connections',
        ),
        (
            'limits {\n  https_handshake_timeout = "-1s"\n}\n',
            ':2:3: "limits.https_handshake_timeout": expected a duration of 0 or more',
        ),
        (
            "limits {\n  kv_max_value_size = 1\n}\n",
            ':2:3: yurt\'s catalog does not support "limits.kv_max_value_size": it reads '
            "http_max_conns_per_client",
        ),
    ],
)
def test_catalog_limits_yurt_cannot_honour_are_errors_at_their_position(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "limits.hcl"
    path.write_text(text)
    with pytest.raises(SettingsError) as err:
        load_settings([tmp_path])
    assert str(err.value).startswith(f"{path}{expected}"), str(err.value)


# --- TLS: the handshake has its own timeout, the header timer starts after it ---------------


@pytest.fixture(scope="module")
def server_tls(tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    pair = make_ca(tmp_path_factory.mktemp("ca")).issue("server")
    return TLSConfig(http=True, cert_file=str(pair.cert), key_file=str(pair.key)).server_context()


async def test_a_stalled_tls_handshake_is_closed_after_the_handshake_timeout(
    server_tls: ssl.SSLContext,
) -> None:
    app = web.Application()
    app.router.add_get("/ok", _ok)
    port = free_port()
    limits = HTTPLimits(handshake_timeout=0.4, header_timeout=5, idle_timeout=5)
    runner = await start_site(app, "127.0.0.1", port, tls=server_tls, limits=limits)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"\x16\x03\x01")  # the start of a ClientHello, never finished
        took = await _closed_after(reader, 4)
        assert 0.3 < took < 2.5
        writer.close()
    finally:
        await runner.cleanup()


async def test_a_slow_head_over_tls_is_closed_after_the_header_timeout(
    server_tls: ssl.SSLContext,
) -> None:
    app = web.Application()
    app.router.add_get("/ok", _ok)
    port = free_port()
    limits = HTTPLimits(handshake_timeout=5, header_timeout=0.4, idle_timeout=5)
    runner = await start_site(app, "127.0.0.1", port, tls=server_tls, limits=limits)
    client = ssl.create_default_context()
    client.check_hostname = False
    client.verify_mode = ssl.CERT_NONE
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client)
        writer.write(b"GET /ok HTTP/1.1\r\n")
        start = time.monotonic()
        with contextlib.suppress(ConnectionResetError, ssl.SSLError):
            assert await asyncio.wait_for(reader.read(), 4) == b""
        assert 0.3 < time.monotonic() - start < 2.5
        writer.close()
    finally:
        await runner.cleanup()


# --- the router UI's yurt-only properties ---------------------------------------------------


def test_router_ui_limits_default_and_properties() -> None:
    default = RouterConfig.from_properties({}).ui_limits
    assert (default.header_timeout, default.idle_timeout, default.max_conns_per_client) == (
        10.0,
        60.0,
        100,
    )
    cfg = RouterConfig.from_properties(
        {"ui.readheadertimeout": "2s", "ui.idletimeout": "0", "ui.maxconnsperclient": "7"}
    )
    limits = cfg.ui_limits
    assert (limits.header_timeout, limits.idle_timeout, limits.max_conns_per_client) == (2, 0, 7)
    assert limits.answer_429 and limits.setting == "-ui.maxconnsperclient"


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"ui.maxconnsperclient": "-1"}, "ui.maxconnsperclient: expected 0 or more"),
        ({"ui.maxconnsperclient": "many"}, "ui.maxconnsperclient: expected an integer"),
        ({"ui.idletimeout": "-1s"}, "ui.idletimeout: expected 0 or more"),
        ({"ui.readheadertimeout": "soon"}, "ui.readheadertimeout: invalid duration"),
    ],
)
def test_bad_router_ui_limits_are_errors(props: dict[str, str], message: str) -> None:
    with pytest.raises(RouterConfigError) as err:
        RouterConfig.from_properties(props)
    assert str(err.value).startswith(message), str(err.value)

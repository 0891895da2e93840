"""Woken blocking queries answered straight onto their connections (`yurt.api.woken_answer`):
the same bytes as aiohttp's own answer, the connection kept for the next request, and
aiohttp's path for every request or answer the early one does not take."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.catalog.inprocess import base_url, running_catalog
from yurt.api import woken_answer
from yurt.api.blocking import BlockingQuery, WatchHub, blocking_encoded
from yurt.catalog import CatalogServer
from yurt.catalog.config import ConsulACLConfig

ROOT = "root-secret-of-the-test"


class RawConnection:
    """One HTTP connection written and read byte for byte."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def to(cls, srv: CatalogServer) -> RawConnection:
        return cls(*await asyncio.open_connection("127.0.0.1", srv.config.http_port))

    def send(self, path: str, version: str = "1.1", token: str = "") -> None:
        extra = f"X-Consul-Token: {token}\r\n" if token else ""
        self.writer.write(f"GET {path} HTTP/{version}\r\nHost: 127.0.0.1\r\n{extra}\r\n".encode())

    async def answer(self) -> bytes:
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), 10)
        length = int(re.search(rb"Content-Length: (\d+)", head)[1])  # type: ignore[index]
        return head + await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


def _undated(raw: bytes) -> bytes:
    return re.sub(rb"Date: [^\r]*\r\n", b"Date: -\r\n", raw)


@pytest.fixture
def sends(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bool]]:
    """What each `WireAnswer.send` call returned (True: written by the early path)."""
    calls: list[bool] = []
    real = woken_answer.WireAnswer.send

    def spy(self: woken_answer.WireAnswer, headers: dict[str, str], body: bytes) -> bool:
        calls.append(real(self, headers, body))
        return calls[-1]

    monkeypatch.setattr(woken_answer.WireAnswer, "send", spy)
    yield calls


async def _put(srv: CatalogServer, path: str, body: object, token: str = "") -> None:
    headers = {"X-Consul-Token": token} if token else {}
    async with aiohttp.ClientSession() as http:
        kw = {"data": body} if isinstance(body, str | bytes) else {"json": body}
        async with http.put(base_url(srv) + path, headers=headers, **kw) as r:
            assert r.status == 200, await r.text()


async def _index(srv: CatalogServer, path: str, token: str = "") -> int:
    headers = {"X-Consul-Token": token} if token else {}
    async with (
        aiohttp.ClientSession() as http,
        http.get(base_url(srv) + path, headers=headers) as r,
    ):
        return int(r.headers["X-Consul-Index"])


async def _parked(srv: CatalogServer, readers: int) -> None:
    for _ in range(1000):
        if srv.hub.waiting() >= readers:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{srv.hub.waiting()} of {readers} readers parked")


def _registration(status: str) -> dict[str, object]:
    return {
        "Node": "n1",
        "Address": "10.0.0.1",
        "Service": {"ID": "web-1", "Service": "web", "Port": 80},
        "Check": {
            "CheckID": "web-1:alive",
            "Name": "alive",
            "ServiceID": "web-1",
            "Status": status,
        },
    }


# (read, the write that wakes it): the KV read and a catalog read (`blocking_answer`)
READS = [
    ("/v1/kv/watched", "/v1/kv/watched", "two"),
    ("/v1/health/service/web", "/v1/catalog/register", _registration("critical")),
]


@pytest.mark.parametrize(("read", "write", "body"), READS, ids=["kv", "health"])
@pytest.mark.parametrize("acl", [False, True], ids=["acl-off", "acl-deny"])
async def test_a_woken_reader_gets_aiohttps_bytes_and_keeps_its_connection(
    tmp_path: Path,
    sends: list[bool],
    read: str,
    write: str,
    body: object,
    acl: bool,
) -> None:
    config = ConsulACLConfig(enabled=True, default_policy="deny", initial_management=ROOT)
    async with running_catalog(tmp_path, config if acl else None) as srv:
        token = ROOT if acl else ""
        await _put(srv, "/v1/kv/watched", "one", token)
        await _put(srv, "/v1/catalog/register", _registration("passing"), token)
        index = await _index(srv, read, token)
        conn = await RawConnection.to(srv)
        conn.send(f"{read}?index={index}&wait=30s", token=token)
        await _parked(srv, 1)
        await _put(srv, write, body, token)
        woken = await conn.answer()
        assert sends == [True]
        # the same connection, the same state, aiohttp's own answer
        conn.send(read, token=token)
        again = await conn.answer()
        assert sends == [True]
        conn.close()
    assert woken.startswith(b"HTTP/1.1 200 OK\r\n")
    assert f"X-Consul-Default-Acl-Policy: {'deny' if acl else 'allow'}\r\n".encode() in woken
    assert _undated(woken) == _undated(again)


async def test_an_http10_reader_is_answered_by_aiohttp(tmp_path: Path, sends: list[bool]) -> None:
    async with running_catalog(tmp_path) as srv:
        await _put(srv, "/v1/kv/watched", "one")
        index = await _index(srv, "/v1/kv/watched")
        conn = await RawConnection.to(srv)
        conn.send(f"/v1/kv/watched?index={index}&wait=30s", version="1.0")
        await _parked(srv, 1)
        await _put(srv, "/v1/kv/watched", "two")
        woken = await conn.answer()
        conn.close()
    assert sends == []
    assert woken.startswith(b"HTTP/1.0 200 OK\r\n")
    assert b'"Value": "dHdv"' in woken  # "two"


async def _watching_kv(srv: CatalogServer, readers: int) -> list[RawConnection]:
    """`readers` connections parked on the key `watched` (written once first)."""
    await _put(srv, "/v1/kv/watched", "one")
    index = await _index(srv, "/v1/kv/watched")
    conns = [await RawConnection.to(srv) for _ in range(readers)]
    for conn in conns:
        conn.send(f"/v1/kv/watched?index={index}&wait=30s")
    await _parked(srv, readers)
    return conns


async def test_a_large_answer_goes_through_aiohttps_writer(
    tmp_path: Path, sends: list[bool]
) -> None:
    async with running_catalog(tmp_path) as srv:
        [conn] = await _watching_kv(srv, 1)
        await _put(srv, "/v1/kv/watched", b"x" * 60_000)  # 80,000 bytes once in base64
        woken = await conn.answer()
        conn.send("/v1/kv/watched")
        again = await conn.answer()
        conn.close()
    assert sends == [False]
    assert len(woken) > woken_answer.MAX_BODY
    assert _undated(woken) == _undated(again)


async def test_readers_that_left_are_skipped_and_the_rest_answered(
    tmp_path: Path, sends: list[bool]
) -> None:
    async with running_catalog(tmp_path) as srv:
        conns = await _watching_kv(srv, 6)
        for gone in conns[::2]:
            gone.writer.transport.abort()
        await asyncio.sleep(0.1)
        await _put(srv, "/v1/kv/watched", "two")
        answers = [await conn.answer() for conn in conns[1::2]]
        for conn in conns[1::2]:
            conn.close()
    assert sends.count(True) == 3
    assert all(b'"Value": "dHdv"' in a for a in answers)


async def test_early_answers_run_before_any_woken_task() -> None:
    hub = WatchHub()
    order: list[str] = []
    index = 5

    def read() -> tuple[bytes, int]:
        return b"{}", index

    def sender(name: str) -> object:
        def send(answer: tuple[bytes, int]) -> bool:
            order.append(f"sent {name}")
            return True

        return send

    async def reader(name: str) -> None:
        query = BlockingQuery(index=5, wait_s=10)
        await blocking_encoded(hub, ["t"], query, "k", read, sender(name))  # type: ignore[arg-type]
        order.append(f"resumed {name}")

    tasks = [asyncio.create_task(reader(n)) for n in "abc"]
    while hub.waiting() < 3:
        await asyncio.sleep(0)
    index = 6
    hub.notify("t")
    await asyncio.gather(*tasks)
    assert sorted(order[:3]) == ["sent a", "sent b", "sent c"]  # woken in any order
    assert all(o.startswith("resumed") for o in order[3:])
    assert not hub._early


async def test_a_reader_whose_index_did_not_move_parks_again_without_sending() -> None:
    hub = WatchHub()
    sent: list[object] = []

    def read() -> tuple[bytes, int]:
        return b"{}", 5

    query = BlockingQuery(index=5, wait_s=0.3)
    task = asyncio.create_task(
        blocking_encoded(hub, ["t"], query, "k", read, lambda a: sent.append(a) or True)
    )
    while hub.waiting() == 0:
        await asyncio.sleep(0)
    hub.notify("t")  # a write to the topic that left this read's index as it was
    assert await task == (b"{}", 5)  # answered when the wait ran out, by its task
    assert sent == []
    assert not hub._early


async def test_timeouts_and_cancellations_leave_no_early_answer_behind() -> None:
    hub = WatchHub()
    assert await hub.wait(["a"], 0.01, early=lambda: None) is False
    task = asyncio.create_task(hub.wait(["a", "b"], 10, early=lambda: None))
    while hub.waiting() < 2:
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not hub._early and hub.waiting() == 0


@pytest.mark.parametrize("acl", [False, True], ids=["acl-off", "acl-on"])
async def test_a_woken_job_list_reader(tmp_path: Path, sends: list[bool], acl: bool) -> None:
    # With ACLs on, a middleware filters the answer after the handler: never sent early.
    from aiohttp.test_utils import TestServer

    from tests.scheduler import jobs as J
    from yurt.scheduler import SchedulerConfig, SchedulerServer
    from yurt.scheduler.http_api import build_app

    server = SchedulerServer(SchedulerConfig(http_port=0, data_dir=tmp_path, acl_enabled=acl))
    headers = ""
    if acl:
        token = server.acl.bootstrap()  # the management token: sees every job
        headers = f"X-Nomad-Token: {token['SecretID']}\r\n"
    server.ops.register_job(J.job("first"))
    async with TestServer(build_app(server)) as http:
        reader, writer = await asyncio.open_connection("127.0.0.1", http.port)
        conn = RawConnection(reader, writer)

        def get(path: str) -> None:
            writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}\r\n".encode())

        get("/v1/jobs")
        index = int(re.search(rb"X-Nomad-Index: (\d+)", await conn.answer())[1])  # type: ignore[index]
        get(f"/v1/jobs?index={index}&wait=30s")
        for _ in range(1000):
            if server.store.hub.waiting():
                break
            await asyncio.sleep(0.01)
        server.ops.register_job(J.job("second"))
        woken = await conn.answer()
        get("/v1/jobs")
        again = await conn.answer()
        conn.close()
    server.store.close()
    assert sends == ([] if acl else [True])
    assert b'"ID": "second"' in woken or b'"ID":"second"' in woken
    assert _undated(woken) == _undated(again)


async def test_the_catalog_app_changes_no_answer_after_its_handler(tmp_path: Path) -> None:
    # An early answer skips what runs after the handler: the one response hook is the
    # one `woken_headers` applies, and the middlewares leave a handler's answer as it is.
    # A new hook or middleware that rewrites answers must be weighed here.
    async with running_catalog(tmp_path) as srv:
        hooks = [h.__name__ for h in srv.app.on_response_prepare]
        middlewares = [getattr(m, "__qualname__", repr(m)) for m in srv.app.middlewares]
    assert hooks == ["_default_acl_policy"]
    assert middlewares == ["BrowserGuard.middleware", "error_middleware"], middlewares


async def test_a_woken_reader_over_tls(tmp_path: Path, sends: list[bool]) -> None:
    from tests.support.tls_ca import make_ca
    from yurt.api.tls import TLSConfig
    from yurt.catalog import CatalogConfig

    ca = make_ca(tmp_path / "ca")
    pair = ca.issue("server")
    cfg = CatalogConfig(http_port=0, data_dir=tmp_path / "data", node_name="node1")
    cfg.tls = TLSConfig(http=True, cert_file=str(pair.cert), key_file=str(pair.key))
    cfg.https_port = 0
    srv = CatalogServer(cfg)
    await srv.start()
    try:
        await _put(srv, "/v1/kv/watched", "one")
        index = await _index(srv, "/v1/kv/watched")
        client = TLSConfig(http=True, ca_file=str(ca.cert)).client_context()
        conn = RawConnection(
            *await asyncio.open_connection("127.0.0.1", cfg.https_port, ssl=client)
        )
        conn.send(f"/v1/kv/watched?index={index}&wait=30s")
        await _parked(srv, 1)
        await _put(srv, "/v1/kv/watched", "two")
        woken = await conn.answer()
        conn.send("/v1/kv/watched")
        again = await conn.answer()
        conn.close()
    finally:
        await srv.stop()
    assert sends == [True]
    assert b'"Value": "dHdv"' in woken
    assert _undated(woken) == _undated(again)


async def test_an_early_answer_after_its_task_resumed_sends_nothing() -> None:
    # The hub runs early answers before the woken tasks; should one ever come after its
    # task resumed (and answered), it must not write a second response.
    hub = WatchHub()
    sent: list[object] = []
    captured: list[object] = []
    real_wait = hub.wait

    async def wait(topics: object, timeout: float, early: object = None) -> bool:
        captured.append(early)
        return await real_wait(topics, timeout)  # type: ignore[arg-type]

    hub.wait = wait  # type: ignore[method-assign]
    index = 5

    def read() -> tuple[bytes, int]:
        return b"{}", index

    query = BlockingQuery(index=5, wait_s=10)
    task = asyncio.create_task(
        blocking_encoded(hub, ["t"], query, "k", read, lambda a: sent.append(a) or True)
    )
    while hub.waiting() == 0:
        await asyncio.sleep(0)
    index = 6
    hub.notify("t")  # wakes the task the usual way (no early sender registered)
    assert await task == (b"{}", 6)
    [early] = captured
    early()  # type: ignore[operator]  # late: the task already answered
    assert sent == []

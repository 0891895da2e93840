"""The proxy's Python cost per request, without sockets or other processes.

`bench/router.py` measures the router as a whole, but on a 2-core machine shared with wrk and
nginx its numbers move by a factor of two from run to run. This drives the data path's own
protocol objects (`ClientProtocol`, `UpstreamProtocol`) with in-memory transports: a request
as wrk sends it goes in, the head the upstream would get comes out, nginx's response to it goes
in and the client's bytes come out. CPU time (not wall time) per request, best of several
rounds, so other processes barely move it.

    python bench/router_datapath.py                 # request-id on, access log off and on
    python bench/router_datapath.py --profile       # cProfile of one round, by own time
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from yurt.router import proxy as P  # noqa: E402
from yurt.router.access_log import AccessLog  # noqa: E402
from yurt.router.metrics import ProxyMetrics  # noqa: E402
from yurt.router.table import MATCHERS, PICKERS, Table  # noqa: E402
from yurt.router.upstream import UpstreamProtocol  # noqa: E402

REQUEST = b"GET /index.html HTTP/1.1\r\nHost: 127.0.0.1:9999\r\n\r\n"
BROWSER = (
    b"GET /app/index.html?q=1 HTTP/1.1\r\nHost: example.com\r\n"
    b"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n"
    b"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    b"Accept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br\r\n"
    b"Referer: http://example.com/\r\nConnection: keep-alive\r\nCookie: a=b; c=d\r\n"
    b"Upgrade-Insecure-Requests: 1\r\nX-Forwarded-For: 10.1.2.3\r\n\r\n"
)
BODY = b"x" * 2050
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Wed, 25 Nov 2026 09:34:56 GMT\r\n"
    b"Content-Type: text/html\r\nContent-Length: 2050\r\n"
    b"Last-Modified: Wed, 25 Nov 2026 09:34:55 GMT\r\nConnection: keep-alive\r\n"
    b'ETag: "6b06abbf-802"\r\nAccept-Ranges: bytes\r\n\r\n' + BODY
)
CHUNKED = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
    b"Date: Wed, 25 Nov 2026 09:34:56 GMT\r\n\r\n"
    b"400\r\n" + b"y" * 1024 + b"\r\n400\r\n" + b"y" * 1024 + b"\r\n0\r\n\r\n"
)


class MemoryTransport(asyncio.Transport):
    """Keeps what is written; the proxy asks it only for the peer's address."""

    def __init__(self) -> None:
        super().__init__()
        self.out: list[bytes] = []
        self.closing = False

    def write(self, data: Any) -> None:
        self.out.append(bytes(data))

    def writelines(self, list_of_data: Any) -> None:
        self.out.append(b"".join(list_of_data))

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 9999)}.get(
            name, default
        )

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def case(
    request: bytes, response: bytes, *, access_log: bool, metrics: bool = False
) -> tuple[Any, float]:
    """(one exchange as a function, CPU seconds per exchange: best of 7 rounds)."""
    settings = P.ProxySettings(
        pick=PICKERS["rnd"], match=MATCHERS["prefix"], request_id_header="X-Request-Id"
    )
    if access_log:
        settings.access_log = AccessLog("common", io.StringIO())
    if metrics:
        settings.metrics = ProxyMetrics("fabio")
    settings.table = Table.from_text("route add nginx / http://127.0.0.1:8080/")
    proxy = P.HTTPProxy(settings)
    client = proxy.protocol()
    ct = MemoryTransport()
    client.connection_made(ct)
    up = UpstreamProtocol(proxy.pool, ("127.0.0.1", 8080, 0))
    ut = MemoryTransport()
    up.connection_made(ut)
    proxy.pool.put(up)
    log = settings.access_log

    def once() -> None:
        client.data_received(request)
        up.data_received(response)
        ct.out.clear()
        ut.out.clear()
        if log is not None:
            log.out.seek(0)
            log.out.truncate()

    client.data_received(request)
    up.data_received(response)
    if not ct.out or b" 200 OK\r\n" not in ct.out[0] or proxy.pool.get(up.key) is not up:
        raise SystemExit(f"the exchange did not complete: {ct.out[:1]!r}")
    proxy.pool.put(up)
    n = 20000
    best = float("inf")
    for _ in range(7):
        t0 = time.process_time()
        for _ in range(n):
            once()
        best = min(best, time.process_time() - t0)
    return once, best / n


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--profile", action="store_true", help="cProfile the plain case")
    args = ap.parse_args()
    cases = [
        ("wrk GET, nginx 2 KB page", REQUEST, RESPONSE, False, False),
        ("same, access log on", REQUEST, RESPONSE, True, False),
        ("same, prometheus metrics on", REQUEST, RESPONSE, False, True),
        ("browser GET (10 headers)", BROWSER, RESPONSE, False, False),
        ("wrk GET, chunked 2 KB reply", REQUEST, CHUNKED, False, False),
    ]
    print(f"{'exchange':<30} {'us/request':>10}")
    for name, req, resp, alog, metrics in cases:
        once, per = case(req, resp, access_log=alog, metrics=metrics)
        print(f"{name:<30} {per * 1e6:>10.2f}")
        if args.profile and name == cases[0][0]:
            prof = cProfile.Profile()
            prof.enable()
            for _ in range(20000):
                once()
            prof.disable()
            pstats.Stats(prof).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.run(main())
    except ImportError:
        asyncio.run(main())

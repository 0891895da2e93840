"""Property tests of the router's head handling and route lookup (Hypothesis, bounded example
counts): the head rules never raise on any bytes; the data path's route cache agrees with
the table's own lookup; and random request heads sent to a real `yurt router` process always
get an answer that is not the router's failure, with the process still up."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.router.hostile_support import RouterProcess, echo_upstream, read_reply, start_router
from yurt.router.paths import lookup_path
from yurt.router.request_checks import absolute_form, connection_tokens, head_problem, valid_host
from yurt.router.route_cache import RouteCache as _RouteCache
from yurt.router.table import MATCHERS, PICKERS, Table

HOST_BYTES = set(
    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!$%&'()*+,-.:;=[]_~"
)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_valid_host_is_the_go_byte_set(host: bytes) -> None:
    assert valid_host(host) is all(b in HOST_BYTES for b in host)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=80),
        st.builds(
            lambda s, a, p: s + b"://" + a + p,
            st.sampled_from([b"http", b"HTTPS", b"ftp"]),
            st.binary(max_size=30),
            st.binary(max_size=30),
        ),
    )
)
def test_absolute_form_splits_any_target(target: bytes) -> None:
    parsed = absolute_form(target)
    if parsed is None:
        return
    authority, path = parsed
    assert path.startswith(b"/")
    assert b"@" not in authority and b"/" not in authority and b"?" not in authority
    assert authority in target and path.lstrip(b"/") in target


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.binary(max_size=40), max_size=4),
    st.sampled_from(["1.0", "1.1"]),
    st.integers(min_value=0, max_value=3),
    st.binary(max_size=20),
    st.booleans(),
)
def test_head_rules_never_raise(
    values: list[bytes], version: str, hosts: int, host: bytes, te: bool
) -> None:
    names = connection_tokens(values)
    assert all(n == n.strip().lower() and n for n in names)
    problem = head_problem(version, b"GET", hosts, host, te)
    assert problem == "" or (hosts != 1 or not valid_host(host) or (te and version == "1.0"))


TABLE = Table.from_text(
    "\n".join(
        [
            "route add a / http://127.0.0.1:1/",
            "route add b /api http://127.0.0.1:2/",
            "route add c /api/v2/ http://127.0.0.1:3/",
            "route add d example.com/ http://127.0.0.1:4/",
            "route add e *.example.com/x http://127.0.0.1:5/",
            "route add f EXAMPLE.org/caps http://127.0.0.1:6/",
        ]
    )
)

HOSTS = st.one_of(
    st.sampled_from(["", "example.com", "a.example.com", "EXAMPLE.com:80", "example.org", "x"]),
    st.text(max_size=20),
)
PATHS = st.one_of(
    st.sampled_from(["/", "/api", "/api/", "/api/v2/x", "/x", "/caps", "/%2e%2e/api"]),
    st.text(max_size=30).map(lambda t: "/" + t),
)


@pytest.mark.parametrize("matcher", ["prefix", "iprefix", "glob"])
@settings(max_examples=200, deadline=None)
@given(host=HOSTS, path=PATHS)
def test_route_cache_agrees_with_the_table(matcher: str, host: str, path: str) -> None:
    match = MATCHERS[matcher]
    cache = _RouteCache()
    cache.reset(TABLE, match)
    hb, pb = host.encode("utf-8"), path.encode("utf-8")
    hb_text, pb_text = hb.decode("latin-1"), pb.decode("latin-1")
    want = TABLE.lookup(hb_text, lookup_path(pb_text), PICKERS["rr"], match)
    got = cache.resolve(hb + b" " + pb, hb, pb)
    assert (got.ring[0] if got is not None else None) == want


@pytest.fixture(scope="module")
def router(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RouterProcess]:
    with echo_upstream() as up:
        r = start_router(
            tmp_path_factory.mktemp("router"),
            f"route add svc / http://127.0.0.1:{up}/",
            "-proxy.readheadertimeout",
            "2s",
        )
        try:
            yield r
        finally:
            r.proc.stop(timeout=5)


_NO_CRLF = st.binary(max_size=40).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b""))
_FRAMING = re.compile(rb"\s*(content-length|transfer-encoding)\s*", re.IGNORECASE)
_TOKEN = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-.^_`|~",
    min_size=1,
    max_size=20,
).map(str.encode)
_PRINTABLE = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40)


def _mostly(
    good: st.SearchStrategy[bytes], odd: st.SearchStrategy[bytes]
) -> st.SearchStrategy[bytes]:
    """`good` seven times in eight, `odd` the rest: most heads reach routing and the upstream,
    some carry bytes the parser refuses."""
    return st.integers(0, 7).flatmap(lambda i: odd if i == 0 else good)


_VALUE = _mostly(
    _PRINTABLE.map(str.encode),
    st.one_of(st.text(max_size=40).map(lambda t: t.encode("utf-8")), _NO_CRLF),
).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b""))
HEADER_NAMES = _mostly(
    st.one_of(
        st.sampled_from(
            [b"Host", b"Connection", b"Upgrade", b"X-Forwarded-For", b"Forwarded", b"Expect"]
        ),
        _TOKEN,
    ),
    _NO_CRLF,
).filter(lambda n: b":" not in n and not _FRAMING.fullmatch(n))


def _head(
    method: bytes,
    target: bytes,
    version: bytes,
    host: bytes | None,
    headers: list[tuple[bytes, bytes]],
) -> bytes:
    lines = [b"%s %s HTTP/%s\r\n" % (method, target, version)]
    if host is not None:
        lines.append(b"Host: %s\r\n" % host)
    lines += [b"%s: %s\r\n" % h for h in headers]
    return b"".join(lines) + b"\r\n"


HEADS = st.builds(
    _head,
    st.sampled_from([b"GET", b"POST", b"HEAD", b"OPTIONS", b"DELETE", b"PATCH", b"get", b"BREW"]),
    _mostly(
        st.one_of(
            st.sampled_from([b"/", b"*", b"http://a.example/x", b"/a?b=c"]),
            _PRINTABLE.filter(lambda t: " " not in t).map(lambda t: b"/" + t.encode()),
        ),
        _NO_CRLF.map(lambda t: b"/" + t),
    ),
    st.sampled_from([b"1.1", b"1.1", b"1.1", b"1.0", b"2.0"]),
    _mostly(st.just(b"a.example"), st.one_of(st.none(), _VALUE)),
    st.lists(st.tuples(HEADER_NAMES, _VALUE), max_size=5),
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(head=HEADS)
def test_any_head_gets_an_answer_that_is_not_a_router_failure(
    router: RouterProcess, head: bytes
) -> None:
    with socket.create_connection(("127.0.0.1", router.proxy_port), timeout=5) as sock:
        sock.sendall(head)
        reply = read_reply(sock, timeout=5, body=not head.startswith(b"HEAD "))
    assert reply is not None, f"no answer to {head!r}"
    event(f"status {reply.status}")
    # 5xx from the router itself would be its failure; the upstream's own 501/505 are not.
    assert reply.status < 500 or reply.status in (501, 505), (head, reply.head, reply.body)
    assert router.alive()

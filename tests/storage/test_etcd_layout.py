"""Where rows live in etcd's key space (yurt.storage.etcd_layout): pure, table-tested."""

from __future__ import annotations

import pytest

from yurt.storage.etcd_layout import Layout, Place, escape, first_written, unescape

LAYOUT = Layout.of("/yurt/catalog/")


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("plain", "plain"),
        ("a/b", "a%2Fb"),
        ("node\0svc", "node%00svc"),
        ("100%", "100%25"),
        ("%2F", "%252F"),  # an escape in the input stays itself
        ("é☃", "é☃"),
        ("", ""),
    ],
)
def test_escape_round_trips(raw: str, escaped: str) -> None:
    assert escape(raw) == escaped
    assert unescape(escaped) == raw


@pytest.mark.parametrize(
    ("etcd_key", "place"),
    [
        (b"/yurt/catalog/kv/a%2Fb", Place("row", "kv", "a/b")),
        (b"/yurt/catalog/services/n1%00web", Place("row", "services", "n1\0web")),
        (b"/yurt/catalog/%order/kv/a%2Fb", Place("order", "kv", "a/b")),
        (b"/yurt/catalog/%meta/index", Place("index")),
        (b"/yurt/catalog/%25meta/index", Place("row", "%meta", "index")),  # a table named so
        (b"/yurt/catalog/%meta/other", Place("")),
        (b"/yurt/catalog/nokey", Place("")),
        (b"/yurt/catalogue/kv/a", Place("")),  # another prefix
        (b"/yurt/scheduler/job/x", Place("")),
    ],
)
def test_place_of_an_etcd_key(etcd_key: bytes, place: Place) -> None:
    assert LAYOUT.place(etcd_key) == place


def test_rows_order_keys_and_the_index_are_apart() -> None:
    assert LAYOUT.row("kv", "a/b") == b"/yurt/catalog/kv/a%2Fb"
    assert LAYOUT.order("kv", "a/b") == b"/yurt/catalog/%order/kv/a%2Fb"
    assert LAYOUT.index == b"/yurt/catalog/%meta/index"
    # a table's range holds its rows only, not a table whose name it starts
    assert not LAYOUT.row("kv2", "x").startswith(LAYOUT.table("kv"))
    assert LAYOUT.place(LAYOUT.row("%order", "k")) == Place("row", "%order", "k")


@pytest.mark.parametrize("prefix", ["", "/", "///"])
def test_an_empty_prefix_is_refused(prefix: str) -> None:
    with pytest.raises(ValueError):
        Layout.of(prefix)


@pytest.mark.parametrize(
    ("position", "revision", "order"),
    [(b"0", 7, (7, 0)), (b"12", 7, (7, 12)), (b"junk", 9, (9, 1 << 62))],
)
def test_first_written_order(position: bytes, revision: int, order: tuple[int, int]) -> None:
    assert first_written(position, revision) == order

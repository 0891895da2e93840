"""Records written for the store: the same JSON text `dataclasses.asdict` gave, and
independent of later changes to the record's object (they are encoded at once)."""

from dataclasses import asdict
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yurt.catalog.model import Check, CheckDefinition, Node, Service, Session
from yurt.catalog.shared_values import FrozenDict, FrozenList
from yurt.storage.batch import PendingWrites, encode

_text = st.text(max_size=12)
_strings = st.lists(_text, max_size=4)
_map = st.dictionaries(_text, _text, max_size=4)

_EXAMPLES: list[Any] = [
    Node("n1", "id-1", "10.0.0.1", "dc1", {"lan": "10.0.0.1"}, {"rack": "r1"}, 3, 4),
    Service("n1", "web-1", "web", ["urlprefix-/web"], "10.0.0.1", 8080, {"v": "1"}),
    Service(
        "n1", "web-2", "web", FrozenList(["a", "b"]), meta=FrozenDict({"k": "v"}),
        proxy={"DestinationServiceName": "web", "Upstreams": [{"LocalBindPort": 1}]},
    ),
    Check("n1", "web-1:alive", "alive", "passing", service_id="web-1", service_tags=["t"]),
    Check(
        "n1", "c2", "http", definition=CheckDefinition(
            kind="http", http="http://x/", header={"A": ["1", "2"]}, interval_ns=10**9,
            args=["sh", "-c", "true"],
        ),
    ),
    Session("s1", "n1", name="lock", node_checks=["serfHealth"], service_checks=["c2"]),
]  # fmt: skip


@pytest.mark.parametrize("record", _EXAMPLES, ids=lambda r: type(r).__name__)
def test_the_row_is_what_asdict_wrote(record: Any) -> None:
    assert encode(record.to_record()) == encode(asdict(record))


@settings(max_examples=60)
@given(
    node=_text, sid=_text, name=_text, tags=_strings, meta=_map, port=st.integers(0, 65535),
    status=st.sampled_from(["passing", "warning", "critical"]),
    header=st.dictionaries(_text, _strings, max_size=3), frozen=st.booleans(),
)  # fmt: skip
def test_rows_of_any_service_and_check_match_asdict(
    node: str,
    sid: str,
    name: str,
    tags: list[str],
    meta: dict[str, str],
    port: int,
    status: str,
    header: dict[str, list[str]],
    frozen: bool,
) -> None:
    if frozen:
        tags, meta = FrozenList(tags), FrozenDict(meta)
    svc = Service(node, sid, name, tags, "10.0.0.1", port, meta)
    chk = Check(node, sid + ":c", name, status, service_id=sid, service_tags=tags,
                definition=CheckDefinition(kind="http", header=header))  # fmt: skip
    assert encode(svc.to_record()) == encode(asdict(svc))
    assert encode(chk.to_record()) == encode(asdict(chk))
    assert Service.from_record(svc.to_record()) == svc
    assert Check.from_record(chk.to_record()) == chk


def test_a_written_row_does_not_follow_later_changes_of_the_object() -> None:
    svc = Service("n1", "web-1", "web", ["a"], meta={"k": "v"})
    batch = PendingWrites(1)
    batch.put("services", "n1/web-1", svc.to_record())
    svc.tags.append("b")
    svc.meta["k"] = "changed"
    ((_, _, row),) = batch.ops
    assert row is not None and '"tags":["a"]' in row and '"k":"v"' in row

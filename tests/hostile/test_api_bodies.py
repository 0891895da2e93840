"""Malformed and hostile request bodies on every API port are 4xx answers, never 500s.

A real catalog, scheduler and client (processes, loopback); Hypothesis sends them bodies
of every JSON shape, and bytes that are not JSON at all.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.client.conftest import Cluster, running_cluster
from yurt.api.errors import APIError
from yurt.api.http import MAX_JSON_DEPTH, decode_json_body

ROOT = Path(__file__).resolve().parents[2]
DEEP = b"[" * 100_000 + b"]" * 100_000


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, str]]:
    with running_cluster(tmp_path_factory.mktemp("hostile-api")) as cluster:
        cluster.run((ROOT / "jobs" / "job.sleep.nomad").read_text())
        alloc = cluster.wait_alloc("job-sleep", "running")
        yield cluster, alloc["ID"]


def _endpoints(stack: tuple[Cluster, str]) -> list[tuple[str, str]]:
    cluster, alloc_id = stack
    catalog, sched, client = cluster.catalog.url, cluster.sched.url, cluster.client.url
    return [
        ("PUT", f"{catalog}/v1/catalog/register"),
        ("PUT", f"{catalog}/v1/agent/service/register"),
        ("PUT", f"{catalog}/v1/txn"),
        ("PUT", f"{catalog}/v1/session/create"),
        ("PUT", f"{sched}/v1/jobs"),
        ("POST", f"{sched}/v1/jobs/parse"),
        ("PUT", f"{sched}/v1/validate/job"),
        ("POST", f"{sched}/v1/search"),
        ("POST", f"{client}/v1/client/allocation/{alloc_id}/signal?task=__none__"),
    ]


def test_100000_deep_json_is_a_400_on_every_port(stack: tuple[Cluster, str]) -> None:
    for method, url in _endpoints(stack):
        resp = requests.request(method, url, data=DEEP, timeout=20)
        assert resp.status_code == 400, (url, resp.status_code, resp.text)
        assert resp.text == (
            "Request decode failed: exceeded max depth: arrays and objects are nested more "
            f"than {MAX_JSON_DEPTH} levels deep at line 1 column {MAX_JSON_DEPTH + 1}"
        )
    cluster, _ = stack
    assert cluster.api.jobs.get_jobs()  # still serving


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"a": 1', "Request decode failed: Expecting ',' delimiter at line 1 column 8"),
        (b"\xff\xfe\xfd", "Request decode failed: body is not UTF-8"),
        (b'{"a": NaN}', "Request decode failed: invalid value NaN: JSON has no NaN or Infinity"),
        (b"1" * 5000, "Request decode failed: a number has more than 4300 digits"),
    ],
    ids=["truncated", "not-utf8", "nan", "long-number"],
)
def test_malformed_json_says_what_is_wrong(body: bytes, expected: str) -> None:
    with pytest.raises(APIError) as info:
        decode_json_body(body)
    assert info.value.status == 400
    assert info.value.message.startswith(expected)


def test_json_at_the_depth_limit_is_read() -> None:
    body = b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH
    value: Any = decode_json_body(body)
    for _ in range(MAX_JSON_DEPTH - 1):
        value = value[0]
    assert value == []
    deeper = b'{"k": "[[[[", "v": ' + body + b"}"
    # The brackets inside the string do not count; the object itself does.
    with pytest.raises(APIError, match=f"at line 1 column {19 + MAX_JSON_DEPTH}$"):
        decode_json_body(deeper)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)
_field_names = st.sampled_from(
    [
        "Job",
        "ID",
        "Name",
        "Node",
        "Address",
        "Service",
        "Checks",
        "TaskGroups",
        "Prefix",
        "Context",
        "JobHCL",
        "Variables",
        "Verb",
        "KV",
        "Key",
        "Value",
        "Signal",
        "Task",
        "TTL",
        "Behavior",
        "Canonicalize",
        "Port",
        "Tags",
        "Meta",
        "Datacenter",
        "Check",
        "Interval",
    ]
)
# Objects with the field names the endpoints read, holding values of every type.
_shaped = st.recursive(
    _json,
    lambda inner: st.dictionaries(_field_names, inner, max_size=6) | st.lists(inner, max_size=3),
    max_leaves=25,
)
_bodies = (
    _shaped.map(lambda v: json.dumps(v).encode())
    | _json.map(lambda v: json.dumps(v).encode())
    | st.binary(max_size=64)
    | st.integers(1, 3000).map(lambda n: b"[" * n + b"]" * n)
)


@settings(max_examples=200, deadline=None, database=None)
@given(_bodies)
def test_any_body_decodes_or_is_a_400(body: bytes) -> None:
    try:
        decode_json_body(body)
    except APIError as exc:
        assert exc.status == 400
        assert exc.message.startswith("Request decode failed: ")


@settings(
    max_examples=150,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(index=st.integers(min_value=0, max_value=8), body=_bodies)
def test_no_body_is_a_500_on_any_port(stack: tuple[Cluster, str], index: int, body: bytes) -> None:
    method, url = _endpoints(stack)[index]
    resp = requests.request(method, url, data=body, timeout=30)
    assert resp.status_code < 500, (method, url, body[:200], resp.status_code, resp.text[:300])


@pytest.mark.parametrize(
    ("hcl", "expected"),
    [
        ('locals { a = range(20000000) }\njob "x" {}\n', "input.hcl:1:14: range(): more than 1024"),
        (
            'job "x" {\n' + "a {\n" * 10_000 + "}\n" * 10_000 + "}\n",
            "input.hcl:1001:3: brackets, braces and parentheses are nested more than 1000",
        ),
        (
            "locals { a = " + "(" * 5000 + "1" + ")" * 5000 + ' }\njob "x" {}\n',
            "input.hcl:1:1013: brackets, braces and parentheses are nested more than 1000",
        ),
    ],
    ids=["range", "blocks", "parens"],
)
def test_hostile_job_files_are_400s_with_a_position(
    stack: tuple[Cluster, str], hcl: str, expected: str
) -> None:
    cluster, _ = stack
    for path, body in (
        ("/v1/jobs/parse", {"JobHCL": hcl}),
        ("/v1/jobs/parse", {"JobHCL": hcl, "Canonicalize": True}),
    ):
        resp = requests.post(cluster.sched.url + path, json=body, timeout=30)
        assert resp.status_code == 400, resp.text
        assert resp.text.startswith(expected), resp.text

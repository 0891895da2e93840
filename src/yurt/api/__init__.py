"""HTTP plumbing shared by the catalog, scheduler and router APIs.

Blocking queries, request-body casing, Go durations and error responses live here once,
so that the Consul-compatible and Nomad-compatible APIs behave alike on the wire.
"""

from yurt.api.blocking import BlockingQuery, WatchHub, blocking_query
from yurt.api.casing import fold, get_field, has_field, pascal_case
from yurt.api.durations import duration_from_json, format_go_duration, parse_go_duration
from yurt.api.errors import APIError
from yurt.api.http import (
    error_middleware,
    expect_object,
    flag,
    json_response,
    read_json,
    split_host_port,
    start_site,
)

__all__ = [
    "APIError",
    "BlockingQuery",
    "WatchHub",
    "blocking_query",
    "duration_from_json",
    "error_middleware",
    "expect_object",
    "flag",
    "fold",
    "format_go_duration",
    "get_field",
    "has_field",
    "json_response",
    "parse_go_duration",
    "pascal_case",
    "read_json",
    "split_host_port",
    "start_site",
]

"""HTTP plumbing shared by the catalog, scheduler and router APIs.

Blocking queries, request-body casing, Go durations and error responses live here once,
so that the Consul-compatible and Nomad-compatible APIs behave alike on the wire.

The names below load lazily: `yurt.api.durations` or `yurt.api.casing` alone must not pull
in aiohttp, as the pure modules that use them (job files, the scheduler's core) do not serve.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from yurt import lazy

if TYPE_CHECKING:
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

_EXPORTS = {
    "APIError": "yurt.api.errors",
    "BlockingQuery": "yurt.api.blocking",
    "WatchHub": "yurt.api.blocking",
    "blocking_query": "yurt.api.blocking",
    "duration_from_json": "yurt.api.durations",
    "error_middleware": "yurt.api.http",
    "expect_object": "yurt.api.http",
    "flag": "yurt.api.http",
    "fold": "yurt.api.casing",
    "format_go_duration": "yurt.api.durations",
    "get_field": "yurt.api.casing",
    "has_field": "yurt.api.casing",
    "json_response": "yurt.api.http",
    "parse_go_duration": "yurt.api.durations",
    "pascal_case": "yurt.api.casing",
    "read_json": "yurt.api.http",
    "split_host_port": "yurt.api.http",
    "start_site": "yurt.api.http",
}

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


def __getattr__(name: str) -> object:
    return lazy.load(__name__, _EXPORTS, name)

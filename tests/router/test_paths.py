from __future__ import annotations

import pytest

from yurt.router.paths import lookup_path


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        ("/", "/"),
        ("/foo/bar", "/foo/bar"),
        ("/foo/", "/foo/"),
        ("/a%20b", "/a b"),
        ("/%66oo", "/foo"),
        ("//foo//bar", "/foo/bar"),
        ("/foo/../bar", "/bar"),
        ("/foo/./bar/", "/foo/bar/"),
        ("/../../etc", "/etc"),
        ("/foo/%2e%2e/bar", "/bar"),
    ],
)
def test_lookup_path(raw: str, want: str) -> None:
    assert lookup_path(raw) == want

"""Consul's unsigned query parameters (`cas`, `flags`): absent, in range, or a 400 in the
text of the endpoint that reads them."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import make_mocked_request

from yurt.api.errors import APIError
from yurt.catalog.api_common import uint_query

KV = "Invalid {name} value: {raw} is not an unsigned integer"
CONFIG = "Error parsing cas value: {raw} is not an unsigned integer"


@pytest.mark.parametrize(
    ("query", "error", "want"),
    [
        ("", KV, None),
        ("?cas=0", KV, 0),
        ("?cas=18446744073709551615", KV, 2**64 - 1),
        ("?cas=18446744073709551616", KV, "Invalid cas value: '18446744073709551616' is not"),
        ("?cas=-1", KV, "Invalid cas value: '-1' is not an unsigned integer"),
        ("?cas=x", CONFIG, "Error parsing cas value: 'x' is not an unsigned integer"),
    ],
)
def test_uint_query(query: str, error: str, want: int | str | None) -> None:
    request = make_mocked_request("GET", "/v1/kv/a" + query)
    if isinstance(want, str):
        with pytest.raises(APIError) as info:
            uint_query(request, "cas", error)
        assert info.value.status == 400
        assert str(info.value.message).startswith(want)
    else:
        assert uint_query(request, "cas", error) == want

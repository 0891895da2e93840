"""JSON decoding with orjson, and the standard decoder for what only it accepts: the two
give the same values (a table)."""

import json

import pytest

from yurt import jsonfast


@pytest.mark.parametrize(
    "text",
    [
        '[{"Node": "n1", "CheckID": "c", "ModifyIndex": 12, "ServiceTags": ["a", "b"]}]',
        '{"k": null, "f": 1.5, "t": true, "u": "\\u00e9\\ud83d\\ude00"}',
        "[NaN, Infinity, -Infinity]",  # Python's json accepts them, orjson does not
        "18446744073709551615",  # Consul's indexes are unsigned 64 bits
        '"\\ud800"',  # a lone surrogate
        "[]",
    ],
)
def test_the_same_values_as_the_standard_decoder(text: str) -> None:
    want = json.loads(text)
    got = jsonfast.loads(text.encode())
    assert repr(got) == repr(want)  # repr: NaN != NaN
    assert repr(jsonfast.loads(text)) == repr(want)


def test_an_integer_past_64_bits_is_a_float() -> None:
    assert jsonfast.loads(b"123456789012345678901234567890") == pytest.approx(1.2345678901e29)


@pytest.mark.parametrize("text", ["", "[1,", "{'a': 1}", "[1] x", "\xff"])
def test_not_json_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        jsonfast.loads(text.encode("latin-1"))

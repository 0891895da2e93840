"""A row's JSON text (`yurt.storage.batch.encode`): orjson where it can, the standard
encoder where orjson refuses; either way the row reads back as it was written (a table)."""

import json
from typing import Any

import pytest

from yurt.storage.batch import decode, encode


@pytest.mark.parametrize(
    "value",
    [
        {"ID": "a1", "Count": 3, "Score": 0.123456789, "Tags": ["x", "y"], "Meta": None},
        {"Name": "Zürich ☃ \U0001f600", "Nested": {"deep": [1, [2, [3]]]}},
        {"Big": 2**70, "Neg": -(2**64)},  # past 64 bits: orjson refuses, json writes them
        {"Odd": "\ud800"},  # a lone surrogate: the same
        {"Float": 1e-07, "Large": 1.5e300, "Zero": -0.0},
        [],
        "text",
        7,
        None,
    ],
)
def test_a_row_reads_back_as_written(value: Any) -> None:
    assert repr(decode(encode(value))) == repr(value)


def test_non_string_keys_are_written_as_the_standard_encoder_writes_them() -> None:
    value = {1: "one", 2.5: "x", None: "n", False: "f"}
    assert decode(encode(value)) == json.loads(json.dumps(value))


def test_a_value_json_cannot_hold_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        encode({"when": object()})

import pytest

from yurt.api.json_document import DocumentError, load_object


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"key": {"a": {"policy": "read"}}}', {"key": {"a": {"policy": "read"}}}),
        ("{}", {}),
    ],
)
def test_an_object_is_returned(text: str, expected: dict[str, object]) -> None:
    assert load_object(text, "rules.json") == expected


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ('{"key": ', "rules.json:1:9: Expecting value"),
        ('{\n  "a": 1,\n}', "rules.json:3:1: Expecting property name enclosed in double quotes"),
        ("[1, 2]", "expected a JSON object"),
        ('"text"', "expected a JSON object"),
    ],
)
def test_a_syntax_error_names_its_place(text: str, error: str) -> None:
    with pytest.raises(DocumentError) as info:
        load_object(text, "rules.json")
    assert str(info.value) == error

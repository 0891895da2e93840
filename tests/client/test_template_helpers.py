"""consul-template's helper functions, rendered through the Go template engine the client
uses, with the examples of consul-template's documentation."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from yurt.client.gotemplate import TemplateError, parse, render
from yurt.client.template_helpers import helper_funcs

SERVICES = [
    {"Name": "web", "Address": "10.0.0.1", "Port": 80, "Tags": ["blue", "v1"]},
    {"Name": "web", "Address": "10.0.0.2", "Port": 81, "Tags": ["green", "v1"]},
]


def _render(source: str, **data: Any) -> str:
    funcs = {
        **helper_funcs({"HOME_DIR": "/home/app"}),
        "service": lambda name: SERVICES,
        "eq": lambda a, b: a == b,
        "len": len,
    }
    return render(parse(source), funcs)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('{{ "aGVsbG8=" | base64Decode }}', "hello"),
        ('{{ "hello" | base64Encode }}', "aGVsbG8="),
        ('{{ "aGk_Pz8-" | base64URLDecode }}', "hi???>"),
        ('{{ "hi???>" | base64URLEncode }}', "aGk_Pz8-"),
        ('{{ envOrDefault "HOME_DIR" "/" }} {{ envOrDefault "NOPE" "/tmp" }}', "/home/app /tmp"),
        ('{{ if "true" | parseBool }}yes{{ end }}', "yes"),
        ('{{ "1.5" | parseFloat }}', "1.5"),
        ('{{ "42" | parseUint }}', "42"),
        ('{{ with "{\\"a\\": {\\"b\\": 3} }" | parseJSON }}{{ .a.b }}{{ end }}', "3"),
        ('{{ "" | parseJSON | len }}', "0"),
        ('{{ "--x--" | trim "-" }}', "x"),
        ('{{ "app-web" | trimPrefix "app-" }}', "web"),
        ('{{ "web.conf" | trimSuffix ".conf" }}', "web"),
        ('{{ "hello world" | toTitle }}', "Hello World"),
        ('{{ "a\\nb" | indent 2 }}', "  a\n  b"),
        ('{{ if "v1.2.3" | regexMatch "^v[0-9]+" }}semver{{ end }}', "semver"),
        ('{{ "web-01" | regexReplaceAll "([a-z]+)-([0-9]+)" "$2-$1" }}', "01-web"),
        (
            '{{ "hello" | sha256Hex }}',
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
        ),
        ('{{ "hello" | md5sum }}', "5d41402abc4b2a76b9719d911017c592"),
        ("{{ range loop 3 }}{{ . }}{{ end }} {{ range loop 5 8 }}{{ . }}{{ end }}", "012 567"),
        (
            '{{ range $tag, $s := service "web" | byTag }}{{ $tag }}:{{ len $s }} {{ end }}',
            "blue:1 green:1 v1:2 ",
        ),
        ('{{ range service "web" }}{{ if in .Tags "blue" }}{{ .Port }}{{ end }}{{ end }}', "80"),
        (
            '{{ range service "web" }}'
            '{{ if .Tags | containsAll (parseJSON "[\\"v1\\", \\"green\\"]") }}'
            "{{ .Port }}{{ end }}{{ end }}",
            "81",
        ),
        ("{{ 5 | subtract 2 }} {{ 10 | divide 4 }} {{ 10 | modulo 4 }} {{ 2 | add 3 }}", "3 2 2 5"),
        ("{{ 3 | multiply 4 }} {{ 3 | minimum 4 }} {{ 3 | maximum 4 }}", "12 3 4"),
    ],
)
def test_helpers(source: str, expected: str) -> None:
    assert _render(source) == expected


def test_timestamp_is_rfc3339_utc_or_unix() -> None:
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", _render("{{ timestamp }}"))
    assert abs(int(_render('{{ timestamp "unix" }}')) - time.time()) < 5


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ('{{ "%%%" | base64Decode }}', "base64Decode"),
        ('{{ "maybe" | parseBool }}', 'parseBool: invalid syntax "maybe"'),
        ('{{ "-1" | parseUint }}', 'parseUint: invalid syntax "-1"'),
        ('{{ "{" | parseJSON }}', "parseJSON"),
        ('{{ "x" | regexMatch "(" }}', "regexMatch"),
        ('{{ timestamp "2006-01-02" }}', 'Go time layout "2006-01-02" is not supported'),
        ("{{ 1 | divide 0 }}", "divide: division by zero"),
    ],
)
def test_bad_input_is_a_template_error(source: str, message: str) -> None:
    with pytest.raises(TemplateError) as err:
        _render(source)
    assert message in str(err.value)

"""The Go text/template subset templates are rendered with."""

from __future__ import annotations

from typing import Any

import pytest

from yurt.client.gotemplate import MissingData, TemplateError, parse, render
from yurt.client.templates import parse_env_file


def _funcs() -> dict[str, Any]:
    services = [
        {"Address": "10.0.0.1", "Port": 80, "Tags": ["a"]},
        {"Address": "10.0.0.2", "Port": 81, "Tags": []},
    ]

    def key(path: str) -> str:
        if path == "missing":
            raise MissingData(f"kv.block({path})")
        return {"color": "blue"}[path]

    return {
        "key": key,
        "service": lambda name: services if name == "web" else [],
        "env": lambda name: {"NOMAD_ALLOC_INDEX": "3"}.get(name, ""),
        "toUpper": lambda s: s.upper(),
        "eq": lambda a, b: a == b,
        "len": len,
    }


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('color={{ key "color" }}', "color=blue"),
        ('{{ key "color" | toUpper }}', "BLUE"),
        (
            '{{ range service "web" }}{{ .Address }}:{{ .Port }} {{ end }}',
            "10.0.0.1:80 10.0.0.2:81 ",
        ),
        ('{{ range $i, $s := service "web" }}{{ $i }}={{ $s.Port }};{{ end }}', "0=80;1=81;"),
        ('{{ range service "none" }}x{{ else }}empty{{ end }}', "empty"),
        ('{{ if eq (env "NOMAD_ALLOC_INDEX") "3" }}three{{ else }}other{{ end }}', "three"),
        ("{{ if eq 1 2 }}a{{ else if eq 2 2 }}b{{ else }}c{{ end }}", "b"),
        ('{{ with service "web" }}{{ len . }}{{ end }}', "2"),
        ("a  {{- /* note */ -}}  b", "ab"),
        ('line\n  {{- "x" }}\n', "linex\n"),
        ('{{ $c := key "color" }}[{{ $c }}]', "[blue]"),
    ],
)
def test_render(source: str, expected: str) -> None:
    assert render(parse(source), _funcs()) == expected


def test_custom_delimiters() -> None:
    assert render(parse('[[ key "color" ]] {{ raw }}', "[[", "]]"), _funcs()) == "blue {{ raw }}"


def test_errors_name_the_line() -> None:
    with pytest.raises(TemplateError, match="line 2: unclosed action"):
        parse("ok\n{{ key ")
    with pytest.raises(TemplateError, match="without"):
        parse("{{ if true }}x")
    with pytest.raises(TemplateError, match='function "nope" not defined'):
        render(parse("{{ nope }}"), _funcs())


def test_missing_data_propagates() -> None:
    with pytest.raises(MissingData, match=r"kv\.block"):
        render(parse('{{ key "missing" }}'), _funcs())


def test_env_file() -> None:
    assert parse_env_file('# c\nA=1\nB = "two"\n\nC=x=y\n') == {"A": "1", "B": "two", "C": "x=y"}

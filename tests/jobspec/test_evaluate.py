"""Expression evaluation: what is computed at parse time, what passes through to the client."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from yurt.jobspec import JobspecError, parse_job


def _meta(body: str, prelude: str = "", **kwargs: Any) -> dict[str, Any]:
    text = f'{prelude}\njob "e" {{\n  meta {{\n{body}\n  }}\n  group "g" {{\n'
    text += '    task "t" { driver = "exec" }\n  }\n}\n'
    meta: dict[str, Any] = parse_job(text, "e.nomad", **kwargs)["Meta"]
    return meta


def test_runtime_references_pass_through_as_interpolations() -> None:
    meta = _meta(
        '    a = "${NOMAD_PORT_http}"\n'
        '    b = "${attr.kernel.name}-${node.datacenter}"\n'
        "    c = meta.rack\n"
        '    d = "x${meta.x}y"\n'
        "    e = node.unique.name\n"
        '    f = "${NOMAD_META_list[0]}"\n'
    )
    assert meta == {
        "a": "${NOMAD_PORT_http}",
        "b": "${attr.kernel.name}-${node.datacenter}",
        "c": "${meta.rack}",
        "d": "x${meta.x}y",
        "e": "${node.unique.name}",
        "f": "${NOMAD_META_list[0]}",
    }


def test_escapes() -> None:
    meta = _meta('    a = "$${HOME}"\n    b = "tab\\there"\n    c = "q\\"uote"\n    d = "%%{x}"')
    assert meta == {"a": "${HOME}", "b": "tab\there", "c": 'q"uote', "d": "%{x}"}


def test_heredocs_interpolate_and_trim() -> None:
    prelude = 'locals {\n  who = "world"\n}\n'
    body = (
        "    plain = <<EOT\nhello ${local.who}\n  kept indent $${not}\nEOT\n"
        "    trimmed = <<-EOT\n      a ${upper(local.who)}\n        b\n      EOT\n"
    )
    meta = _meta(body, prelude)
    assert meta["plain"] == "hello world\n  kept indent ${not}\n"
    assert meta["trimmed"] == "a WORLD\n  b\n"


def test_conditionals_operators_and_for_expressions() -> None:
    prelude = 'variable "env" {\n  default = "prod"\n}\nlocals {\n  n = [1, 2, 3]\n}\n'
    body = (
        '    a = var.env == "prod" ? "big" : "small"\n'
        "    b = length([for x in local.n : x * 2 if x > 1])\n"
        '    c = join(",", [for k, v in { a = 1, b = 2 } : "${k}${v}"])\n'
        "    d = 10 % 4\n"
        "    e = !(1 >= 2) || false\n"
        "    f = -3 + 1\n"
        "    g = jsonencode({ for k, v in { x = 1 } : upper(k) => v })\n"
    )
    assert _meta(body, prelude) == {
        "a": "big",
        "b": "2",
        "c": "a1,b2",
        "d": "2",
        "e": "true",
        "f": "-2",
        "g": '{"X":1}',
    }


def test_locals_may_refer_to_later_locals_but_not_to_themselves() -> None:
    prelude = 'locals {\n  a = "${local.b}!"\n  b = "hi"\n}\n'
    assert _meta("    x = local.a", prelude) == {"x": "hi!"}
    with pytest.raises(JobspecError) as info:
        _meta("    x = local.a", "locals {\n  a = local.b\n  b = local.a\n}\n")
    assert "refers to itself" in str(info.value)


def test_environment_and_var_files(tmp_path: Path) -> None:
    prelude = (
        'variable "ports" {\n  type = list(number)\n}\n'
        'variable "name" {\n  type = string\n  default = "d"\n}\n'
        'variable "flags" {\n  type = map(string)\n  default = {}\n}\n'
    )
    json_file = tmp_path / "vars.json"
    json_file.write_text(json.dumps({"flags": {"a": "1"}}))
    hcl_file = tmp_path / "vars.hcl"
    hcl_file.write_text('name = "from-file"\n')
    meta = _meta(
        '    p = jsonencode(var.ports)\n    n = var.name\n    f = var.flags["a"]',
        prelude,
        environ={"NOMAD_VAR_ports": "[80, 443]", "NOMAD_VAR_name": "from-env"},
        var_files=[json_file, hcl_file],
    )
    assert meta == {"p": "[80,443]", "n": "from-file", "f": "1"}
    meta = _meta(
        "    n = var.name",
        prelude,
        variables={"name": "from-flag", "ports": "[1]"},
        var_files=[hcl_file],
    )
    assert meta == {"n": "from-flag"}


def test_var_file_for_undeclared_variable_is_an_error(tmp_path: Path) -> None:
    f = tmp_path / "extra.hcl"
    f.write_text("nope = 1\n")
    with pytest.raises(JobspecError) as info:
        _meta("    x = 1", var_files=[f])
    assert str(info.value) == f'{f}:1:1: variable "nope" is not declared in the job file'


def test_file_function_only_for_the_cli(tmp_path: Path) -> None:
    from yurt.jobspec import load_job

    (tmp_path / "motd.txt").write_text("hello\n")
    text = 'job "f" {\n  meta {\n    m = file("motd.txt")\n  }\n  group "g" {\n'
    text += '    task "t" { driver = "exec" }\n  }\n}\n'
    path = tmp_path / "f.nomad"
    job = load_job(text, str(path), allow_fs=True).job
    assert job["Meta"] == {"m": "hello\n"}
    # As jobspec2's guardFS: the function exists and says it is disabled.
    with pytest.raises(JobspecError, match="file\\(\\): filesystem function disabled"):
        parse_job(text, str(path))


def test_meta_keys_with_dots_via_attribute_syntax() -> None:
    text = 'job "m" {\n  meta = {\n    "a.b" = "c"\n  }\n  group "g" {\n'
    text += '    task "t" {\n      driver = "exec"\n      env = { "X.Y" = 1 }\n    }\n  }\n}\n'
    job = parse_job(text, "m.nomad")
    assert job["Meta"] == {"a.b": "c"}
    assert job["TaskGroups"][0]["Tasks"][0]["Env"] == {"X.Y": "1"}


@pytest.mark.parametrize(
    ("expr", "value"),
    [
        ('"%{ if true }yes%{ else }no%{ endif }"', "yes"),
        ('"%{ for x in ["a", "b"] }${x};%{ endfor }"', "a;b;"),
        ('"a %{~ if false ~} b %{~ endif ~} c"', "ac"),
        ('"${1e3}"', "1000"),
        ('"%{ for k, v in { p = 1, q = 2 } }${k}${v}%{ endfor }"', "p1q2"),
    ],
)
def test_string_template_directives(expr: str, value: str) -> None:
    assert _meta(f"    a = {expr}") == {"a": value}


def test_unclosed_directive_is_an_error() -> None:
    with pytest.raises(JobspecError, match=r"has no %\{endif\}"):
        _meta('    a = "%{ if true }yes"')


def test_variables_block_shorthand() -> None:
    prelude = 'variables {\n  region = "eu"\n  replicas = 2\n}\n'
    assert _meta("    r = var.region\n    n = var.replicas", prelude) == {"r": "eu", "n": "2"}
    assert _meta("    r = var.region", prelude, variables={"region": "us"}) == {"r": "us"}

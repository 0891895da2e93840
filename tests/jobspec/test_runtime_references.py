"""Runtime references the job file does not define (node attributes, meta, NOMAD_*
variables) reach the client exactly as written, as jobspec2 keeps them: the cases of its
parse_test.go, checked against `nomad job run -output`."""

from __future__ import annotations

import pytest

from yurt.jobspec import parse_job

CASES = [
    (
        '"foo-${attr.network.dev-us-east1-relay-vpc.external-ip.0}"',
        "foo-${attr.network.dev-us-east1-relay-vpc.external-ip.0}",
    ),
    ('"${mixed-indexing.0[3]["FOO"].5}"', '${mixed-indexing.0[3]["FOO"].5}'),
    ('"${   root.  field[  "FOO"].5  }"', '${   root.  field[  "FOO"].5  }'),
    ('"${NOMAD_PORT_http}"', "${NOMAD_PORT_http}"),
    (
        '"http://${ attr.unique.network.ip-address }:${NOMAD_PORT_http}/"',
        "http://${ attr.unique.network.ip-address }:${NOMAD_PORT_http}/",
    ),
    # A bare reference outside a string becomes the interpolation of its path.
    ("meta.rack", "${meta.rack}"),
    # Values the file defines are still evaluated inside the same string.
    ('"${upper(local.x)}-${node.unique.name}"', "AB-${node.unique.name}"),
]


@pytest.mark.parametrize(("expr", "expected"), CASES)
def test_runtime_reference_kept_as_written(expr: str, expected: str) -> None:
    text = (
        'locals {\n  x = "ab"\n  i = 0\n}\n'
        'job "j" {\n  group "g" {\n    task "t" {\n      driver = "exec"\n'
        f"      env {{\n        V = {expr}\n      }}\n    }}\n  }}\n}}\n"
    )
    env = parse_job(text, "j.nomad")["TaskGroups"][0]["Tasks"][0]["Env"]
    assert env["V"] == expected


def test_heredoc_keeps_runtime_references_as_written() -> None:
    text = (
        'job "j" {\n  group "g" {\n    task "t" {\n      driver = "exec"\n'
        '      template {\n        destination = "local/x"\n        data = <<EOT\n'
        "addr = ${ attr.unique.network.ip-address }\nEOT\n      }\n    }\n  }\n}\n"
    )
    tmpl = parse_job(text, "j.nomad")["TaskGroups"][0]["Tasks"][0]["Templates"][0]
    assert tmpl["EmbeddedTmpl"] == "addr = ${ attr.unique.network.ip-address }\n"

"""Service definitions read from `-config-dir`: HCL files give what the same JSON gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from yurt.catalog.configdir import ConfigDirError, load_services
from yurt.catalog.definitions import ServiceDefinition

WEB_HCL = """
# Consul's documented shape, snake_case keys
service {
  name = "web"
  id   = "web-1"
  port = 8080
  tags = ["urlprefix-/web", "v1"]
  meta {
    version = "1.2"
  }
  enable_tag_override = true
  check {
    id       = "web-http"
    http     = "http://127.0.0.1:8080/health"
    method   = "HEAD"
    interval = "10s"
    timeout  = "2s"
    deregister_critical_service_after = "90m"
  }
}
"""

WEB_JSON = """
{"service": {"name": "web", "id": "web-1", "port": 8080, "tags": ["urlprefix-/web", "v1"],
  "meta": {"version": "1.2"}, "enable_tag_override": true,
  "check": {"id": "web-http", "http": "http://127.0.0.1:8080/health", "method": "HEAD",
            "interval": "10s", "timeout": "2s",
            "deregister_critical_service_after": "90m"}}}
"""


def _load(tmp_path: Path, name: str, text: str) -> list[ServiceDefinition]:
    conf = tmp_path / name.replace(".", "-")
    conf.mkdir()
    (conf / name).write_text(text)
    return load_services([conf], node="n1")


def _summary(d: ServiceDefinition) -> tuple[object, ...]:
    s = d.service
    return (
        s.id,
        s.name,
        s.port,
        s.tags,
        s.meta,
        s.enable_tag_override,
        s.source,
        [(c.check_id, c.definition.to_record()) for c in d.checks],
    )


def test_hcl_service_is_read_as_the_same_json(tmp_path: Path) -> None:
    from_hcl = _load(tmp_path, "web.hcl", WEB_HCL)
    from_json = _load(tmp_path, "web.json", WEB_JSON)
    assert [_summary(d) for d in from_hcl] == [_summary(d) for d in from_json]
    (web,) = from_hcl
    assert (web.service.name, web.service.port, web.service.meta) == (
        "web",
        8080,
        {"version": "1.2"},
    )
    (check,) = web.checks
    assert (check.check_id, check.definition.kind, check.definition.method) == (
        "web-http",
        "http",
        "HEAD",
    )
    assert check.definition.interval_ns == 10 * 10**9


def test_services_blocks_make_a_list_even_of_one(tmp_path: Path) -> None:
    defs = _load(
        tmp_path,
        "many.hcl",
        """
services {
  name = "redis"
  port = 6379
  checks {
    id  = "redis-tcp"
    tcp = "127.0.0.1:6379"
    interval = "5s"
  }
  checks {
    id  = "redis-ttl"
    ttl = "30s"
  }
}
services {
  name = "solo"
  checks = [{ id = "solo-ttl", ttl = "1m" }]
}
""",
    )
    assert [d.service.name for d in defs] == ["redis", "solo"]
    assert [c.check_id for c in defs[0].checks] == ["redis-tcp", "redis-ttl"]
    assert [c.definition.kind for c in defs[0].checks] == ["tcp", "ttl"]
    assert [c.check_id for c in defs[1].checks] == ["solo-ttl"]

    (one,) = _load(tmp_path, "one.hcl", 'services {\n  name = "only"\n}\n')
    assert one.service.name == "only"


def test_hcl_syntax_error_names_file_line_and_column(tmp_path: Path) -> None:
    with pytest.raises(ConfigDirError) as err:
        _load(tmp_path, "bad.hcl", 'service {\n  name = "x"\n  port = \n}\n')
    assert str(err.value).endswith("bad.hcl:3:10: unexpected end of line; expected a value")


def test_hcl_field_error_names_file_and_field(tmp_path: Path) -> None:
    with pytest.raises(ConfigDirError) as err:
        _load(tmp_path, "port.hcl", 'service {\n  name = "x"\n  port = "eighty"\n}\n')
    assert str(err.value).endswith("port.hcl: service.Port: expected an integer, got a string")


def test_labelled_block_is_refused_with_its_position(tmp_path: Path) -> None:
    with pytest.raises(ConfigDirError) as err:
        _load(tmp_path, "label.hcl", 'service "web" {\n  name = "web"\n}\n')
    assert "label.hcl:1:1" in str(err.value) and "takes no labels" in str(err.value)


def test_other_files_are_skipped_and_supported_settings_accepted(tmp_path: Path) -> None:
    # Agent settings are no longer ignored (issue 13): these are the ones that describe what
    # yurt's catalog is; the rejected ones are tabled below.
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "agent.hcl").write_text(
        "server = true\nbootstrap_expect = 1\nui_config {\n  enabled = true\n}\n"
        "ports {\n  dns = -1\n}\n"
    )
    (conf / "README.txt").write_text("not a config file")
    (conf / "z.json").write_text('{"service": {"name": "z"}}')
    assert [d.service.name for d in load_services([conf], node="n1")] == ["z"]


# (file name, text, expected "line:column: message" fragment)
REJECTED: list[tuple[str, str, str]] = [
    ("a.hcl", 'datacenter = "dc1"\n', '1:1: yurt\'s catalog does not support "datacenter"'),
    (
        "a.hcl",
        'service {\n  name = "w"\n}\nencrypt = "k"\n',
        '4:1: yurt\'s catalog does not support "encrypt"',
    ),
    ("a.hcl", "\nserver = false\n", "2:1: yurt supports only server = true"),
    ("a.hcl", "bootstrap_expect = 3\n", "1:1: yurt supports only bootstrap_expect = 1"),
    ("a.hcl", "ports {\n  dns = 8600\n}\n", "2:3: yurt supports only ports.dns = -1"),
    (
        "a.hcl",
        "ports {\n  sidecar_min_port = 1\n}\n",
        '2:3: yurt\'s catalog does not support "ports.sidecar_min_port"',
    ),
    ("a.hcl", "ui_config {\n  enabled = false\n}\n", "1:1: yurt supports only ui_config enabled"),
    (
        "a.hcl",
        "tls {\n  grpc {\n    verify_incoming = true\n  }\n}\n",
        '2:3: yurt\'s catalog does not support "tls.grpc"',
    ),
    (
        "a.hcl",
        'tls {\n  defaults {\n    tls_cipher_suites = "x"\n  }\n}\n',
        '3:5: yurt\'s catalog does not support "tls.defaults.tls_cipher_suites"',
    ),
    (
        "a.hcl",
        'tls {\n  https {\n    tls_min_version = "ssl3"\n  }\n}\n',
        '3:5: unknown tls_min_version "ssl3"',
    ),
    ("a.hcl", 'verify_incoming = "yes"\n', '1:1: "verify_incoming" must be a bool'),
    (
        "a.json",
        '{\n  "service": {"name": "w"},\n  "retry_join": ["x"]\n}\n',
        "3:3: yurt's catalog does not support \"retry_join\" in config files: yurt's "
        "catalog servers find each other in the etcd",
    ),
    ("a.json", '{"ports": {"https": 70000}}', '1:12: "https" must be a port number'),
    ("a.json", '{"log_level": "debug"}', '1:2: yurt\'s catalog does not support "log_level"'),
]


@pytest.mark.parametrize(("name", "text", "expected"), REJECTED)
def test_unsupported_settings_are_errors_at_their_position(
    tmp_path: Path, name: str, text: str, expected: str
) -> None:
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / name).write_text(text)
    with pytest.raises(ConfigDirError) as info:
        load_services([conf], node="n1")
    assert str(info.value).startswith(f"{conf / name}:")
    assert expected in str(info.value)


def test_tls_settings_merge_newest_first(tmp_path: Path) -> None:
    from yurt.catalog.config_settings import load_settings

    ca = tmp_path / "ca.pem"
    conf = tmp_path / "conf"
    conf.mkdir()
    # Older top-level keys in one file, Consul 1.12's tls block in a later one (wins).
    (conf / "1-old.json").write_text(
        '{"cert_file": "/old.pem", "key_file": "/old.key", "verify_incoming_https": false}'
    )
    (conf / "2-new.hcl").write_text(
        f'tls {{\n  defaults {{\n    ca_file = "{ca}"\n    verify_incoming = true\n  }}\n'
        '  https {\n    tls_min_version = "TLSv1_3"\n  }\n'
        "  internal_rpc {\n    verify_server_hostname = true\n  }\n}\n"
        "ports {\n  https = 8501\n  http = -1\n}\n"
    )
    from yurt.catalog.config_settings import SettingsError

    with pytest.raises(SettingsError, match=r'cert_file "/old\.pem": no such file'):
        load_settings([conf])
    from yurt.catalog.config_settings import CatalogSettings, read_settings
    from yurt.catalog.configdir import read_file

    merged = CatalogSettings()
    for path in sorted(conf.iterdir()):
        read_settings(path, read_file(path), merged)
    tls = merged.tls_config()
    assert tls is not None
    assert (tls.cert_file, tls.ca_file, tls.verify_incoming, tls.tls_min_version) == (
        "/old.pem",
        str(ca),
        True,
        "TLSv1_3",
    )
    assert (merged.https_port, merged.http_port) == (8501, -1)


def test_certificates_without_an_https_port_are_an_error(tmp_path: Path) -> None:
    from yurt.catalog.config_settings import SettingsError, load_settings

    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "tls.hcl").write_text('cert_file = "/c.pem"\nkey_file = "/c.key"\n')
    with pytest.raises(SettingsError, match=r"ports \{ https \} is not"):
        load_settings([conf])

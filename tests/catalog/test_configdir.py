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


def test_other_files_and_agent_settings_are_ignored(tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "agent.hcl").write_text('datacenter = "dc1"\nui_config {\n  enabled = true\n}\n')
    (conf / "README.txt").write_text("not a config file")
    (conf / "z.json").write_text('{"service": {"name": "z"}}')
    assert [d.service.name for d in load_services([conf], node="n1")] == ["z"]

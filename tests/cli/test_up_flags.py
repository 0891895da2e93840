"""`yurt up` takes `nomad agent`'s flags over its config files, as Nomad merges them: files
and directories in order (later wins, `meta` merges key by key), then the flags."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from yurt.agent_config import AgentConfig, ConfigError, config_files, load_agent_config
from yurt.cli import main
from yurt.cli.up_flags import AgentFlags, apply_flags, parse_meta


@pytest.mark.parametrize(
    ("flags", "field", "want"),
    [
        (AgentFlags(node="web-1"), "name", "web-1"),
        (AgentFlags(dc="eu1"), "datacenter", "eu1"),
        (AgentFlags(region="europe"), "region", "europe"),
        (AgentFlags(bind="127.0.0.2"), "bind_addr", "127.0.0.2"),
        (
            AgentFlags(servers="10.0.0.1:4647, 10.0.0.2:4647"),
            "client_servers",
            ["10.0.0.1:4647", "10.0.0.2:4647"],
        ),
        (AgentFlags(node_class="edge"), "node_class", "edge"),
        (AgentFlags(log_level="warning"), "log_level", "WARN"),
        (AgentFlags(log_level="debug"), "log_level", "DEBUG"),
        (AgentFlags(acl_enabled=True), "acl_enabled", True),
        # not given: the config's value stays
        (AgentFlags(), "datacenter", "dc1"),
        (AgentFlags(), "log_level", ""),
    ],
)
def test_each_flag_sets_its_config_field(flags: AgentFlags, field: str, want: object) -> None:
    assert getattr(apply_flags(AgentConfig(), flags), field) == want


def test_acl_enabled_turns_on_both_acl_systems() -> None:
    cfg = apply_flags(AgentConfig(), AgentFlags(acl_enabled=True))
    assert cfg.catalog_acl.enabled and cfg.catalog_acl.default_policy == "deny"


@pytest.mark.parametrize(
    ("pairs", "want"),
    [
        (("a=1",), {"a": "1"}),
        (("a=1", "b=x=y"), {"a": "1", "b": "x=y"}),
        (("a=1", "a=2"), {"a": "2"}),
        (("empty=",), {"empty": ""}),
    ],
)
def test_meta_pairs(pairs: tuple[str, ...], want: dict[str, str]) -> None:
    assert parse_meta(pairs) == want


@pytest.mark.parametrize(
    ("flags", "error"),
    [
        (AgentFlags(meta=("novalue",)), "Error parsing Client.Meta value: novalue"),
        (AgentFlags(meta=("=x",)), "Error parsing Client.Meta value: =x"),
        (AgentFlags(servers=" , "), "-servers: expected"),
        (AgentFlags(node=""), "-node must not be empty"),
        (AgentFlags(dc=" "), "-dc must not be empty"),
        (AgentFlags(log_level="loud"), '-log-level: unknown level "loud"'),
    ],
)
def test_bad_flags_say_what_is_wrong(flags: AgentFlags, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        apply_flags(AgentConfig(), flags)


def test_files_then_directories_then_flags(tmp_path: Path) -> None:
    base = tmp_path / "base.hcl"
    base.write_text(
        'datacenter = "dc1"\nname = "from-file"\n'
        'client {\n  node_class = "file"\n  meta { rack = "r1"\n zone = "z1" }\n}\n'
    )
    conf_d = tmp_path / "conf.d"
    conf_d.mkdir()
    # lexical order: 20 overrides 10; editors' files and subdirectories are skipped
    (conf_d / "20-dc.hcl").write_text('datacenter = "dc3"\n')
    (conf_d / "10-dc.hcl").write_text('datacenter = "dc2"\nclient {\n  meta { zone = "z2" }\n}\n')
    (conf_d / "30-x.hcl~").write_text("not hcl at all {\n")
    (conf_d / ".#40-x.hcl").write_text("not hcl at all {\n")
    (conf_d / "#50-x.hcl#").write_text("not hcl at all {\n")
    (conf_d / "notes.txt").write_text("ignored: not a config file\n")
    (conf_d / "sub.hcl").mkdir()
    assert [p.name for p in config_files(conf_d)] == ["10-dc.hcl", "20-dc.hcl"]
    cfg = load_agent_config([base, conf_d])
    assert (cfg.datacenter, cfg.name, cfg.node_class) == ("dc3", "from-file", "file")
    assert cfg.client_meta == {"rack": "r1", "zone": "z2"}
    assert cfg.sources == [str(base), str(conf_d / "10-dc.hcl"), str(conf_d / "20-dc.hcl")]
    apply_flags(cfg, AgentFlags(node="flag-node", meta=("zone=z3", "owner=ops")))
    assert cfg.name == "flag-node" and cfg.datacenter == "dc3"
    assert cfg.client_meta == {"rack": "r1", "zone": "z3", "owner": "ops"}


def test_json_configs_merge_with_hcl_ones(tmp_path: Path) -> None:
    (tmp_path / "10-base.hcl").write_text(
        'datacenter = "dc1"\nclient {\n  meta { rack = "r1" }\n}\n'
    )
    (tmp_path / "20-over.json").write_text(
        """{
  "datacenter": "dc2",
  "client": [{"node_class": "json", "meta": {"zone": "z9"}}],
  "plugin": {"raw_exec": {"config": {"enabled": true}}},
  "catalog": {"acl": {"enabled": true, "tokens": {"agent": "t0k"}}}
}"""
    )
    cfg = load_agent_config([tmp_path])
    assert (cfg.datacenter, cfg.node_class, cfg.raw_exec_enabled) == ("dc2", "json", True)
    assert cfg.client_meta == {"rack": "r1", "zone": "z9"}
    assert cfg.catalog_acl.enabled


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ('{\n  "client": {"node_clas": "x"}\n}', ':2:14: unknown key "node_clas" in client'),
        ('{\n  "telemetry": {}\n}', ':2:3: yurt does not support the "telemetry" block'),
        ("[1]", ":1:1: a JSON config must be an object"),
        ('{"datacenter": }', ":1:16: invalid JSON"),
    ],
)
def test_json_config_errors_point_into_the_json(tmp_path: Path, text: str, error: str) -> None:
    path = tmp_path / "agent.json"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_agent_config([path])
    assert f"{path}{error}" in str(caught.value)


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["-meta", "novalue"], "Error parsing Client.Meta value: novalue"),
        (["-log-level", "loud"], '-log-level: unknown level "loud"'),
        (["-servers", ","], "-servers: expected"),
    ],
)
def test_up_refuses_a_bad_flag_before_starting_anything(args: list[str], error: str) -> None:
    result = CliRunner().invoke(main, ["up", *args])
    assert result.exit_code == 2
    assert error in result.output

"""Consul's `acl { }` block: in `-config-dir` files (HCL and JSON) and in yurt's agent config
(`catalog { acl { } }`, `consul { token }`); a bad setting names its file:line:column."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from yurt.agent_config import parse_agent_config
from yurt.catalog.config import ConsulACLConfig
from yurt.catalog.configdir import ConfigDirError, load_acl_settings
from yurt.jobspec.diagnostics import JobspecError


def _load(tmp_path: Path, name: str, text: str) -> ConsulACLConfig:
    (tmp_path / name).write_text(text)
    acl = ConsulACLConfig()
    load_acl_settings([tmp_path], acl)
    return acl


def test_hcl_acl_block(tmp_path: Path) -> None:
    acl = _load(
        tmp_path,
        "acl.hcl",
        'acl {\n  enabled = true\n  default_policy = "deny"\n  down_policy = "extend-cache"\n'
        "  enable_token_persistence = true\n"
        '  tokens {\n    initial_management = "m"\n    agent = "a"\n'
        '    agent_recovery = "r"\n    default = "d"\n  }\n}\n',
    )
    assert (acl.enabled, acl.default_policy, acl.enable_token_persistence) == (True, "deny", True)
    assert (acl.initial_management, acl.agent, acl.agent_recovery, acl.default) == (
        "m",
        "a",
        "r",
        "d",
    )


def test_json_acl_and_older_token_names(tmp_path: Path) -> None:
    acl = _load(
        tmp_path,
        "acl.json",
        json.dumps({"acl": {"enabled": True, "tokens": {"master": "m", "agent_master": "r"}}}),
    )
    assert acl.enabled and acl.initial_management == "m" and acl.agent_recovery == "r"


def test_later_files_win(tmp_path: Path) -> None:
    (tmp_path / "a.hcl").write_text('acl {\n  default_policy = "allow"\n}\n')
    acl = _load(tmp_path, "b.json", json.dumps({"acl": {"default_policy": "deny"}}))
    assert acl.default_policy == "deny"


BAD = [
    (
        "x.hcl",
        'acl {\n  enabled = true\n  default_policy = "block"\n}\n',
        "x.hcl:3:3",
        '"acl.default_policy" must be one of',
    ),
    ("x.hcl", 'acl {\n  enabled = "yes"\n}\n', "x.hcl:2:3", '"acl.enabled" must be a bool'),
    (
        "x.hcl",
        'acl {\n  tokens {\n    replicaton = "x"\n  }\n}\n',
        "x.hcl:3:5",
        'unknown key "acl.tokens.replicaton"',
    ),
    ("x.hcl", 'acl {\n  token_ttl = "30s"\n}\n', "x.hcl:2:3", "resolves tokens locally"),
    (
        "x.json",
        '{\n  "acl": {\n    "enable": true\n  }\n}\n',
        "x.json:3:5",
        'did you mean "enabled"',
    ),
]


@pytest.mark.parametrize(("name", "text", "where", "message"), BAD)
def test_bad_settings_name_their_place(
    tmp_path: Path, name: str, text: str, where: str, message: str
) -> None:
    with pytest.raises(ConfigDirError) as info:
        _load(tmp_path, name, text)
    assert f"{tmp_path}/{where}:" in str(info.value)
    assert message in str(info.value)


def test_agent_config_catalog_acl_and_consul_token() -> None:
    cfg = parse_agent_config(
        'consul {\n  token = "for-the-components"\n}\n'
        'catalog {\n  acl {\n    enabled = true\n    default_policy = "deny"\n'
        '    tokens {\n      initial_management = "root"\n    }\n  }\n}\n',
        "agent.hcl",
    )
    assert cfg.consul_token == "for-the-components"
    assert cfg.catalog_acl.enabled and cfg.catalog_acl.default_policy == "deny"
    assert cfg.catalog_acl.initial_management == "root"


def test_agent_config_bad_catalog_acl_key() -> None:
    with pytest.raises(JobspecError) as info:
        parse_agent_config("catalog {\n  acl {\n    enabeld = true\n  }\n}\n", "agent.hcl")
    assert "agent.hcl:3:5" in str(info.value)
    assert 'did you mean "enabled"' in str(info.value)

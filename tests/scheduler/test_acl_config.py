"""Nomad's `acl { }` agent block and `yurt scheduler -acl-enabled`."""

from __future__ import annotations

import pytest

from yurt.agent_config import ConfigError, parse_agent_config


def test_acl_block_turns_acls_on() -> None:
    cfg = parse_agent_config(
        'acl {\n  enabled = true\n  token_ttl = "10s"\n  policy_ttl = "1m"\n  role_ttl = "1m"\n}\n',
        "agent.hcl",
    )
    assert cfg.acl_enabled is True
    assert cfg.acl_token_ttl_ns == 10 * 10**9


def test_acls_are_off_by_default() -> None:
    cfg = parse_agent_config('datacenter = "dc1"\n', "agent.hcl")
    assert cfg.acl_enabled is False


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (
            'acl {\n  replication_token = "abc"\n}\n',
            'agent.hcl:2:3: "replication_token" in acl: yurt does not support '
            '"replication_token": yurt runs one region: there is nothing to replicate',
        ),
        (
            'acl {\n  token_ttl = "soon"\n}\n',
            'agent.hcl:2:3: "token_ttl" in acl: invalid duration "soon"',
        ),
        (
            'acl {\n  policy_ttl = "-1s"\n}\n',
            'agent.hcl:2:3: "policy_ttl" in acl:',
        ),
        (
            "acl {\n  enabld = true\n}\n",
            'agent.hcl:2:3: unknown key "enabld" in acl; did you mean "enabled"?',
        ),
        ('acl {\n  enabled = "yes"\n}\n', 'agent.hcl:2:3: "enabled" in acl must be a bool'),
        (
            'acl {\n  token_max_expiration_ttl = "48h"\n}\n',
            'agent.hcl:2:3: "token_max_expiration_ttl" in acl: yurt does not support',
        ),
    ],
)
def test_acl_block_errors_point_at_the_key(text: str, error: str) -> None:
    with pytest.raises(ConfigError) as exc:
        parse_agent_config(text, "agent.hcl")
    assert str(exc.value).startswith(error), str(exc.value)

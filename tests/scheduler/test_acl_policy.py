"""Nomad's policy language and ACL evaluation, as tables (after Nomad's acl/policy_test.go
and acl/acl_test.go)."""

from __future__ import annotations

import pytest

from yurt.scheduler import acl_policy as p
from yurt.scheduler.acl_policy import ACL, PolicyError, compile_acl, glob_match, parse_policy

READ_CAPS = [
    "list-jobs",
    "parse-job",
    "read-job",
    "csi-list-volume",
    "csi-read-volume",
    "read-job-scaling",
    "list-scaling-policies",
    "read-scaling-policy",
]
WRITE_CAPS = [
    *READ_CAPS,
    "scale-job",
    "submit-job",
    "dispatch-job",
    "read-logs",
    "read-fs",
    "alloc-exec",
    "alloc-lifecycle",
    "csi-mount-volume",
    "csi-write-volume",
    "submit-recommendation",
]


@pytest.mark.parametrize(
    ("rules", "namespaces", "coarse"),
    [
        ('namespace "default" { policy = "read" }', {"default": READ_CAPS}, {}),
        ('namespace "default" { policy = "write" }', {"default": WRITE_CAPS}, {}),
        (
            'namespace "default" { policy = "scale" }',
            {
                "default": [
                    "list-scaling-policies",
                    "read-scaling-policy",
                    "read-job-scaling",
                    "scale-job",
                ]
            },
            {},
        ),
        ('namespace "secret" { policy = "deny" }', {"secret": ["deny"]}, {}),
        (
            'namespace "other" { capabilities = ["submit-job", "alloc-node-exec"] }',
            {"other": ["submit-job", "alloc-node-exec"]},
            {},
        ),
        (
            # explicit capabilities come first, then the policy's expansion (as Nomad)
            'namespace "x" {\n policy = "read"\n capabilities = ["submit-job"]\n}',
            {"x": ["submit-job", *READ_CAPS]},
            {},
        ),
        (
            'namespace "prod-*" { policy = "read" }\nnamespace "*" { policy = "deny" }',
            {"prod-*": READ_CAPS, "*": ["deny"]},
            {},
        ),
        (
            'agent { policy = "read" }\nnode { policy = "write" }\noperator { policy = "deny" }'
            '\nquota { policy = "read" }\nplugin { policy = "list" }',
            {},
            {
                "agent": "read",
                "node": "write",
                "operator": "deny",
                "quota": "read",
                "plugin": "list",
            },
        ),
        (
            'namespace "default" {\n policy = "read"\n variables {\n  path "app/*" {\n'
            '   capabilities = ["read", "list"]\n  }\n }\n}',
            {"default": READ_CAPS},
            {},
        ),
        (
            '{"namespace": {"default": {"policy": "write"}}, "node": {"policy": "read"}}',
            {"default": WRITE_CAPS},
            {"node": "read"},
        ),
        (
            '{"namespace": [{"a": [{"capabilities": ["read-logs"]}]}],'
            ' "agent": [{"policy": "write"}]}',
            {"a": ["read-logs"]},
            {"agent": "write"},
        ),
    ],
)
def test_parse_valid(rules: str, namespaces: dict[str, list[str]], coarse: dict[str, str]) -> None:
    policy = parse_policy(rules)
    assert {n.name: list(n.capabilities) for n in policy.namespaces} == namespaces
    assert dict(policy.coarse) == coarse
    assert policy.raw == rules


def test_host_volume_rules() -> None:
    policy = parse_policy(
        'host_volume "prod-*" { policy = "write" }\nhost_volume "ca" { policy = "read" }'
    )
    assert [(h.name, list(h.capabilities)) for h in policy.host_volumes] == [
        ("prod-*", ["mount-readonly", "mount-readwrite"]),
        ("ca", ["mount-readonly"]),
    ]
    acl = compile_acl([policy])
    assert acl.allow_host_volume_op("prod-db", "mount-readwrite")
    assert acl.allow_host_volume_op("ca", "mount-readonly")
    assert not acl.allow_host_volume_op("ca", "mount-readwrite")
    assert not acl.allow_host_volume_op("dev", "mount-readonly")


def test_empty_rules_are_allowed() -> None:
    assert parse_policy("").namespaces == ()


_NS = (
    "&acl.NamespacePolicy{{Name:{n}, Policy:{p}, Capabilities:{c}, "
    "Variables:(*acl.VariablesPolicy)(nil)}}"
)


@pytest.mark.parametrize(
    ("rules", "error"),
    [
        (
            'namespace "default" {\n  policy = "foo"\n}',
            "rules:2:3: Invalid namespace policy: "
            + _NS.format(n='"default"', p='"foo"', c="[]string(nil)"),
        ),
        (
            'namespace "has space" { policy = "read" }',
            "rules:1:1: Invalid namespace name: "
            + _NS.format(n='"has space"', p='"read"', c="[]string(nil)"),
        ),
        (
            'namespace "default" { capabilities = ["read-jobs"] }',
            "rules:1:23: Invalid namespace capability 'read-jobs': "
            + _NS.format(n='"default"', p='""', c='[]string{"read-jobs"}'),
        ),
        (
            'node { policy = "scale" }',
            'rules:1:8: Invalid node policy: &acl.NodePolicy{Policy:"scale"}',
        ),
        (
            'agent { policy = "list" }',
            'rules:1:9: Invalid agent policy: &acl.AgentPolicy{Policy:"list"}',
        ),
        (
            'plugin { policy = "write" }',
            'rules:1:10: Invalid plugin policy: &acl.PluginPolicy{Policy:"write"}',
        ),
        (
            'operator { policy = "read" }\nquota { policy = "all" }',
            'rules:2:9: Invalid quota policy: &acl.QuotaPolicy{Policy:"all"}',
        ),
        (
            'host_volume "x" { policy = "scale" }',
            "rules:1:19: Invalid host volume policy: "
            '&acl.HostVolumePolicy{Name:"x", Policy:"scale", Capabilities:[]string(nil)}',
        ),
        ('namespace "default" { policy = ', "Failed to parse ACL Policy: rules:1:32:"),
        ('nodes { policy = "read" }', 'rules:1:1: unknown block "nodes"'),
        ('namespace "default" { polcy = "read" }', 'rules:1:23: unknown key "polcy"'),
        ('policy = "read"', 'rules:1:1: unknown key "policy"'),
        ('namespace { policy = "read" }', "rules:1:1: namespace blocks take one label"),
        (
            'namespace "d" { variables { path "a" { capabilities = ["delete"] } } }',
            "rules:1:29: Invalid variable capability 'delete' for path \"a\"",
        ),
        (
            '{"namespace": {"default": {"policy": "nope"}}}',
            'rules: namespace."default".policy: Invalid',
        ),
        ('{"namespace": ', "Failed to parse ACL Policy: rules:1:15:"),
        ("# only a comment\n", "Invalid policy: # only a comment"),
    ],
)
def test_parse_invalid(rules: str, error: str) -> None:
    with pytest.raises(PolicyError) as exc:
        parse_policy(rules)
    assert str(exc.value).startswith(error), str(exc.value)


@pytest.mark.parametrize(
    ("pattern", "name", "match"),
    [
        ("*", "anything", True),
        ("prod-*", "prod-api", True),
        ("prod-*", "dev-api", False),
        ("*-api", "prod-api", True),
        ("*-api", "prod-web", False),
        ("a*b*c", "aXXbYYc", True),
        ("a*b*c", "aXXcYYb", False),
        ("exact", "exact", True),
        ("exact", "exactly", False),
        ("ab*ba", "aba", False),
    ],
)
def test_glob(pattern: str, name: str, match: bool) -> None:
    assert glob_match(pattern, name) is match


def _acl(*rules: str) -> ACL:
    return compile_acl([parse_policy(r) for r in rules])


@pytest.mark.parametrize(
    ("rules", "checks"),
    [
        # one read policy
        (
            ['namespace "default" { policy = "read" }'],
            [
                ("default", "read-job", True),
                ("default", "submit-job", False),
                ("other", "read-job", False),
            ],
        ),
        # policies merge: the union of capabilities
        (
            [
                'namespace "default" { policy = "read" }',
                'namespace "default" { capabilities = ["submit-job"] }',
            ],
            [
                ("default", "read-job", True),
                ("default", "submit-job", True),
                ("default", "read-fs", False),
            ],
        ),
        # deny wins over anything else, in any order
        (
            ['namespace "default" { policy = "write" }', 'namespace "default" { policy = "deny" }'],
            [("default", "read-job", False), ("default", "submit-job", False)],
        ),
        (
            [
                'namespace "default" { capabilities = ["deny"] }',
                'namespace "default" { policy = "write" }',
            ],
            [("default", "read-job", False)],
        ),
        # an exact rule beats any glob
        (
            ['namespace "*" { policy = "write" }', 'namespace "prod" { policy = "read" }'],
            [
                ("prod", "read-job", True),
                ("prod", "submit-job", False),
                ("dev", "submit-job", True),
            ],
        ),
        # closest glob: fewest characters left to the wildcard
        (
            [
                'namespace "*" { policy = "deny" }',
                'namespace "prod-*" { policy = "read" }',
                'namespace "prod-api-*" { policy = "write" }',
            ],
            [
                ("prod-web", "read-job", True),
                ("prod-web", "submit-job", False),
                ("prod-api-1", "submit-job", True),
                ("dev", "read-job", False),
            ],
        ),
        # "*" as the namespace asked for: allowed when any namespace allows it
        (
            ['namespace "default" { policy = "read" }', 'namespace "secret" { policy = "deny" }'],
            [("*", "list-jobs", True), ("*", "submit-job", False)],
        ),
        # no rules at all
        ([], [("default", "read-job", False), ("*", "list-jobs", False)]),
    ],
)
def test_namespace_operations(rules: list[str], checks: list[tuple[str, str, bool]]) -> None:
    acl = _acl(*rules)
    for namespace, cap, expected in checks:
        assert acl.allow_namespace_op(namespace, cap) is expected, (namespace, cap)


@pytest.mark.parametrize(
    ("rules", "read", "write"),
    [
        (['node { policy = "read" }'], True, False),
        (['node { policy = "write" }'], True, True),
        (['node { policy = "read" }', 'node { policy = "write" }'], True, True),
        (['node { policy = "write" }', 'node { policy = "deny" }'], False, False),
        ([], False, False),
    ],
)
def test_coarse_levels_take_the_most_privilege_except_deny(
    rules: list[str], read: bool, write: bool
) -> None:
    acl = _acl(*rules)
    assert acl.allow_node_read() is read
    assert acl.allow_node_write() is write
    assert not acl.allow_agent_read()
    assert not acl.is_management


def test_each_coarse_kind() -> None:
    acl = _acl(
        'agent { policy = "write" }\noperator { policy = "read" }\nquota { policy = "read" }'
        '\nplugin { policy = "list" }'
    )
    assert acl.allow_agent_read() and acl.allow_agent_write()
    assert acl.allow_operator_read() and not acl.allow_operator_write()
    assert acl.allow_quota_read() and not acl.allow_quota_write()
    assert acl.allow_plugin_list() and not acl.allow_plugin_read()
    assert not acl.allow_node_read()


def test_management_allows_everything() -> None:
    acl = p.MANAGEMENT
    assert acl.is_management
    assert acl.allow_namespace_op("any", "alloc-node-exec")
    assert acl.allow_node_write() and acl.allow_operator_write() and acl.allow_agent_write()


def test_rules_json_shape() -> None:
    policy = parse_policy('namespace "default" { policy = "read" }\nnode { policy = "read" }')
    doc = policy.rules_json()
    assert doc["Namespaces"] == [{"Name": "default", "Policy": "read", "Capabilities": READ_CAPS}]
    assert doc["Node"] == {"Policy": "read"}
    assert doc["Agent"] is None and doc["HostVolumes"] is None

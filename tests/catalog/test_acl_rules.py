"""Consul's rules language and its decisions, in tables (after Consul's acl/policy_test.go and
acl/policy_authorizer_test.go)."""

from __future__ import annotations

import pytest

from yurt.catalog.acl_authorizer import ALLOW, DEFAULT, DENY, PolicyAuthorizer, token_authorizer
from yurt.catalog.acl_rules import Policy, Rule, RulesError, parse_rules
from yurt.catalog.acl_templates import (
    GLOBAL_MANAGEMENT_RULES,
    TEMPLATED_POLICIES,
    node_identity_rules,
    service_identity_rules,
)

# -- parsing ------------------------------------------------------------------------------

PARSE_CASES = [
    (
        "hcl-key-and-prefix",
        'key "foo/bar" { policy = "read" }\nkey_prefix "foo/" { policy = "list" }',
        [Rule("key", "foo/bar", False, "read"), Rule("key", "foo/", True, "list")],
        {},
    ),
    (
        "hcl-service-intentions",
        'service_prefix "" { policy = "write" intentions = "read" }',
        [Rule("service", "", True, "write", "read")],
        {},
    ),
    (
        "hcl-levels",
        'operator = "read"\nacl = "write"\nkeyring = "deny"\nmesh = "read"',
        [],
        {"operator": "read", "acl": "write", "keyring": "deny", "mesh": "read"},
    ),
    (
        "hcl-every-named-resource",
        "\n".join(
            f'{kind} "x" {{ policy = "write" }}'
            for kind in ("node", "agent_prefix", "session", "event_prefix", "query")
        ),
        [
            Rule("node", "x", False, "write"),
            Rule("agent", "x", True, "write"),
            Rule("session", "x", False, "write"),
            Rule("event", "x", True, "write"),
            Rule("query", "x", False, "write"),
        ],
        {},
    ),
    (
        "json",
        '{"key_prefix": {"a/": {"policy": "write"}}, "operator": "read",'
        ' "service": {"web": {"policy": "read", "intentions": "deny"}}}',
        [Rule("key", "a/", True, "write"), Rule("service", "web", False, "read", "deny")],
        {"operator": "read"},
    ),
    ("empty", "  \n", [], {}),
]


@pytest.mark.parametrize(
    ("rules", "expected_rules", "expected_levels"),
    [c[1:] for c in PARSE_CASES],
    ids=[c[0] for c in PARSE_CASES],
)
def test_parse(rules: str, expected_rules: list[Rule], expected_levels: dict[str, str]) -> None:
    policy = parse_rules(rules)
    assert policy.rules == expected_rules
    assert policy.levels == expected_levels


BAD_CASES = [
    ("list-on-service", 'service "web" { policy = "list" }', 'Invalid service "web" policy "list"'),
    ("unknown-level", 'key "a" { policy = "bogus" }', 'Invalid key "a" policy "bogus"'),
    ("unknown-rule", 'nope "a" { policy = "read" }', 'unknown ACL rule "nope"'),
    ("did-you-mean", 'servce "a" { policy = "read" }', 'did you mean "service"'),
    (
        "intentions-on-key",
        'key "a" { policy = "read" intentions = "read" }',
        'unknown key "intentions"',
    ),
    ("bad-operator", 'operator = "list"', 'Invalid operator policy "list"'),
    ("missing-policy", 'key "a" { }', "missing policy"),
    ("no-label", 'key { policy = "read" }', "takes one label"),
    ("syntax", 'key "a" { policy = ', "Failed to parse ACL rules"),
    ("json-syntax", '{"key": ', "Failed to parse ACL rules"),
    ("json-unknown", '{"keys": {}}', 'unknown ACL rule "keys"'),
    ("json-bad-level", '{"node": {"n": {"policy": "list"}}}', 'node.n: Invalid node "n" policy'),
]


@pytest.mark.parametrize(
    ("rules", "message"), [c[1:] for c in BAD_CASES], ids=[c[0] for c in BAD_CASES]
)
def test_invalid_rules_say_what_and_where(rules: str, message: str) -> None:
    with pytest.raises(RulesError) as info:
        parse_rules(rules, "Rules")
    assert message in str(info.value)


def test_an_hcl_error_names_line_and_column() -> None:
    with pytest.raises(RulesError) as info:
        parse_rules('key "a" { policy = "read" }\n\n  key "b" { policy = "nope" }', "Rules")
    assert "Rules:3:3" in str(info.value)


# -- decisions -----------------------------------------------------------------------------

# (rules, resource, need, name, decision) in the style of policy_authorizer_test.go
DECIDE_CASES = [
    # exact beats prefix, the longest prefix wins
    (
        'key "foo" { policy = "deny" }\nkey_prefix "" { policy = "write" }',
        "key",
        "read",
        "foo",
        DENY,
    ),
    (
        'key "foo" { policy = "deny" }\nkey_prefix "" { policy = "write" }',
        "key",
        "read",
        "food",
        ALLOW,
    ),
    (
        'key_prefix "a/" { policy = "read" }\nkey_prefix "a/b/" { policy = "deny" }',
        "key",
        "read",
        "a/b/c",
        DENY,
    ),
    (
        'key_prefix "a/" { policy = "read" }\nkey_prefix "a/b/" { policy = "deny" }',
        "key",
        "read",
        "a/x",
        ALLOW,
    ),
    ('key_prefix "a/" { policy = "read" }', "key", "write", "a/x", DENY),
    ('key_prefix "a/" { policy = "read" }', "key", "read", "b", DEFAULT),
    # list grants read and list, not write; read does not grant list
    ('key_prefix "" { policy = "list" }', "key", "list", "x", ALLOW),
    ('key_prefix "" { policy = "list" }', "key", "read", "x", ALLOW),
    ('key_prefix "" { policy = "list" }', "key", "write", "x", DENY),
    ('key_prefix "" { policy = "read" }', "key", "list", "x", DENY),
    ('key_prefix "" { policy = "write" }', "key", "list", "x", ALLOW),
    # services and intentions (implied: read with read/write, deny with deny)
    ('service "web" { policy = "write" }', "service", "write", "web", ALLOW),
    ('service "web" { policy = "write" }', "service", "read", "webx", DEFAULT),
    ('service "web" { policy = "write" }', "intention", "read", "web", ALLOW),
    ('service "web" { policy = "write" }', "intention", "write", "web", DENY),
    ('service "web" { policy = "deny" }', "intention", "read", "web", DENY),
    ('service "web" { policy = "read" intentions = "write" }', "intention", "write", "web", ALLOW),
    # nodes, agents, sessions, events, queries
    ('node_prefix "" { policy = "read" }', "node", "read", "n1", ALLOW),
    ('node_prefix "" { policy = "read" }', "node", "write", "n1", DENY),
    ('agent "n1" { policy = "write" }', "agent", "read", "n1", ALLOW),
    ('session_prefix "n" { policy = "write" }', "session", "write", "n1", ALLOW),
    ('event_prefix "" { policy = "read" }', "event", "write", "deploy", DENY),
    ('query "q" { policy = "write" }', "query", "read", "q", ALLOW),
    # unnamed levels; mesh falls back to operator
    ('operator = "read"', "operator", "read", "", ALLOW),
    ('operator = "read"', "operator", "write", "", DENY),
    ('operator = "write"', "mesh", "write", "", ALLOW),
    ('operator = "write"\nmesh = "read"', "mesh", "write", "", DENY),
    ('acl = "read"', "acl", "write", "", DENY),
    ("", "keyring", "read", "", DEFAULT),
]


@pytest.mark.parametrize(("rules", "resource", "need", "name", "decision"), DECIDE_CASES)
def test_decide(rules: str, resource: str, need: str, name: str, decision: str) -> None:
    assert PolicyAuthorizer([parse_rules(rules)]).decide(resource, need, name) == decision


# Merging several policies (a token's own and its roles'): deny beats write beats list beats
# read for the same target; different targets keep their own rules.
MERGE_CASES = [
    (['key "a" { policy = "read" }', 'key "a" { policy = "write" }'], "key", "write", "a", ALLOW),
    (['key "a" { policy = "write" }', 'key "a" { policy = "deny" }'], "key", "read", "a", DENY),
    (['key "a" { policy = "read" }', 'key "a" { policy = "list" }'], "key", "list", "a", ALLOW),
    (
        ['key_prefix "" { policy = "write" }', 'key "a" { policy = "read" }'],
        "key",
        "write",
        "a",
        DENY,
    ),
    (['operator = "read"', 'operator = "write"'], "operator", "write", "", ALLOW),
    (['operator = "write"', 'operator = "deny"'], "operator", "read", "", DENY),
    (
        [
            'service "a" { policy = "read" intentions = "write" }',
            'service "a" { policy = "write" }',
        ],
        "intention",
        "write",
        "a",
        ALLOW,
    ),
]


@pytest.mark.parametrize(("rules", "resource", "need", "name", "decision"), MERGE_CASES)
def test_merge(rules: list[str], resource: str, need: str, name: str, decision: str) -> None:
    authz = PolicyAuthorizer([parse_rules(r) for r in rules])
    assert authz.decide(resource, need, name) == decision


# KeyWritePrefix: the prefix's covering rule decides, unless a rule under it does not write.
WRITE_PREFIX_CASES = [
    ('key_prefix "" { policy = "write" }', "a/", ALLOW),
    ('key_prefix "" { policy = "write" }\nkey "a/x" { policy = "read" }', "a/", DENY),
    ('key_prefix "" { policy = "write" }\nkey "b/x" { policy = "read" }', "a/", ALLOW),
    ('key_prefix "a/" { policy = "read" }', "a/b/", DENY),
    ('key_prefix "a/b/" { policy = "write" }', "a/", DEFAULT),
    ('key_prefix "a/b/" { policy = "deny" }', "a/", DENY),
    ("", "a/", DEFAULT),
]


@pytest.mark.parametrize(("rules", "prefix", "decision"), WRITE_PREFIX_CASES)
def test_key_write_prefix(rules: str, prefix: str, decision: str) -> None:
    assert PolicyAuthorizer([parse_rules(rules)]).decide_key_write_prefix(prefix) == decision


# The default policy takes over where no rule speaks; ACL management is never a default.
DEFAULT_CASES = [
    ("allow", "key", "write", "x", True),
    ("allow", "operator", "write", "", True),
    ("allow", "acl", "read", "", False),
    ("deny", "key", "read", "x", False),
    ("deny", "node", "read", "n", False),
]


@pytest.mark.parametrize(("default", "resource", "need", "name", "allowed"), DEFAULT_CASES)
def test_default_policy(default: str, resource: str, need: str, name: str, allowed: bool) -> None:
    authz = token_authorizer("acc", [Policy()], default)
    assert authz.allowed(resource, need, name) is allowed


def test_a_rule_beats_the_default_policy_both_ways() -> None:
    deny_all_but = token_authorizer("a", [parse_rules('key "k" { policy = "read" }')], "deny")
    assert deny_all_but.key_read("k") and not deny_all_but.key_read("other")
    allow_all_but = token_authorizer("a", [parse_rules('key "k" { policy = "deny" }')], "allow")
    assert not allow_all_but.key_read("k") and allow_all_but.key_read("other")


def test_global_management_allows_everything_under_default_deny() -> None:
    authz = token_authorizer("root", [parse_rules(GLOBAL_MANAGEMENT_RULES)], "deny")
    assert authz.acl_write() and authz.operator_write() and authz.keyring_write()
    assert authz.mesh_write() and authz.intention_write("any")
    assert authz.key_write_prefix("") and authz.service_write("x") and authz.node_write("n")
    assert authz.agent_write("n") and authz.session_write("n") and authz.event_write("e")
    assert authz.query_write("q")


# -- built-in templated policies ----------------------------------------------------------


def test_every_templated_policy_renders_rules_that_parse() -> None:
    for name, template in TEMPLATED_POLICIES.items():
        rules = template.render({"name": "web"})
        assert "{{" not in rules, name
        parse_rules(rules, name)
        data = template.to_json()
        assert data["TemplateName"] == name
        assert ("required" in data["Schema"]) is template.needs_name


def test_a_templated_policy_that_needs_a_name_refuses_none() -> None:
    with pytest.raises(ValueError, match="builtin/service"):
        TEMPLATED_POLICIES["builtin/service"].render({})


def test_service_identity_grants_its_service_and_reads_the_catalog() -> None:
    authz = token_authorizer("s", [parse_rules(service_identity_rules("web"))], "deny")
    assert authz.service_write("web") and authz.service_write("web-sidecar-proxy")
    assert not authz.service_write("db") and authz.service_read("db")
    assert authz.node_read("n1") and not authz.node_write("n1")
    assert not authz.key_read("x")


def test_node_identity_grants_its_node() -> None:
    authz = token_authorizer("n", [parse_rules(node_identity_rules("n1"))], "deny")
    assert authz.node_write("n1") and not authz.node_write("n2")
    assert authz.service_read("web") and not authz.service_write("web")


def test_nomad_client_template_is_what_yurts_components_need() -> None:
    rules = TEMPLATED_POLICIES["builtin/nomad-client"].render(None)
    authz = token_authorizer("c", [parse_rules(rules)], "deny")
    assert authz.service_write("anything") and authz.node_read("n") and authz.key_read("k")
    assert authz.agent_read("n") and not authz.key_write("k") and not authz.acl_read()


def test_a_token_past_its_expiration_time_is_expired() -> None:
    from yurt.catalog.acl_model import ACLToken

    assert ACLToken("a", "s", expiration_time="2000-01-01T00:00:00.000000Z").expired()
    assert not ACLToken("a", "s", expiration_time="2999-01-01T00:00:00.000000Z").expired()
    assert not ACLToken("a", "s").expired()

from pathlib import Path

import pytest

from yurt.agent_config import ConfigError, load_agent_config, parse_agent_config

REPO = Path(__file__).resolve().parents[1]

SEED_SERVER_HCL = """
datacenter = "dc1"
bind_addr = "nomad_in_docker"
advertise {
  http = "nomad_in_docker:4646"
  rpc  = "nomad_in_docker:4647"
  serf = "nomad_in_docker:4648"
}
consul {
  address             = "consul_server:8500"
  server_service_name = "nomad-1-server"
  client_service_name = "nomad-1-client"
  auto_advertise      = true
  server_auto_join    = true
  client_auto_join    = true
}
server {
  enabled = true
  bootstrap_expect = 1
}
plugin "raw_exec" {
  config {
    enabled = true
  }
}
client {
  enabled = true
  meta { rack = "r1" }
}
"""


def test_the_seeds_server_hcl_loads_unchanged() -> None:
    cfg = parse_agent_config(SEED_SERVER_HCL, "server.hcl")
    assert cfg.datacenter == "dc1"
    assert cfg.consul_address == "consul_server:8500"
    assert cfg.server_service_name == "nomad-1-server"
    assert cfg.client_service_name == "nomad-1-client"
    assert cfg.raw_exec_enabled is True
    assert cfg.client_meta == {"rack": "r1"}
    assert cfg.server_enabled and cfg.client_enabled


def test_the_make_up_config_loads() -> None:
    cfg = load_agent_config([REPO / "config" / "agent.hcl"])
    assert (cfg.proxy_addr, cfg.ui_addr, cfg.router_service_name) == (
        "127.0.0.1:9999",
        "127.0.0.1:9998",
        "fabio",
    )
    assert cfg.data_dir == Path(".yurt")


def test_errors_point_at_the_line_and_suggest() -> None:
    text = 'datacenter = 5\nconsul {\n  adress = "x"\n}\nplugin "rawexec" {}\nclinet {}\n'
    with pytest.raises(ConfigError) as info:
        parse_agent_config(text, "agent.hcl")
    lines = str(info.value).splitlines()
    assert lines[0] == 'agent.hcl:1:1: "datacenter" in the agent config must be a string'
    assert lines[1].startswith('agent.hcl:3:3: unknown key "adress" in consul')
    assert 'did you mean "address"?' in lines[1]
    assert lines[2].startswith('agent.hcl:5:1: unknown plugin "rawexec"')
    assert lines[3] == 'agent.hcl:6:1: unknown block "clinet"; did you mean "client"?'


def test_gc_settings_of_the_server_block_reach_the_scheduler(tmp_path: Path) -> None:
    from yurt.agent import Agent

    cfg = parse_agent_config(
        f'data_dir = "{tmp_path}"\n'
        'server {\n  enabled = true\n  job_gc_threshold = "30m"\n'
        '  node_gc_threshold = "1h"\n  job_gc_interval = "1m"\n}\n',
        "gc.hcl",
    )
    assert cfg.gc_thresholds == {"job_ns": 30 * 60 * 10**9, "node_ns": 3600 * 10**9}
    agent = Agent(cfg)
    (server,) = [c for c in agent.components if c.name == "scheduler"]
    thresholds = server.gc.thresholds  # type: ignore[attr-defined]
    assert (thresholds.job_ns, thresholds.node_ns, thresholds.eval_ns) == (
        30 * 60 * 10**9,
        3600 * 10**9,
        3600 * 10**9,  # Nomad's default, untouched
    )
    assert server.config.gc_interval == 60.0  # type: ignore[attr-defined]


def test_bad_gc_threshold_is_reported_at_its_position() -> None:
    with pytest.raises(ConfigError) as err:
        parse_agent_config('server {\n  eval_gc_threshold = "soon"\n}\n', "gc.hcl")
    assert str(err.value).startswith('gc.hcl:2:3: "eval_gc_threshold" in server: invalid duration')


def test_client_template_block_reaches_the_client(tmp_path: Path) -> None:
    from yurt.agent import Agent

    cfg = parse_agent_config(
        f'data_dir = "{tmp_path}"\n'
        "client {\n  enabled = true\n  template {\n"
        '    block_query_wait = "1m"\n    max_stale = "87600h"\n'
        '    wait {\n      min = "2s"\n      max = "10s"\n    }\n'
        '    wait_bounds {\n      max = "5s"\n    }\n  }\n}\n',
        "tmpl.hcl",
    )
    agent = Agent(cfg)
    (client,) = [c for c in agent.components if c.name == "client"]
    t = client.config.templates  # type: ignore[attr-defined]
    assert (t.block_query_wait, t.wait_min, t.wait_max, t.bounds_min, t.bounds_max) == (
        60.0,
        2.0,
        10.0,
        None,
        5.0,
    )


def test_client_template_settings_yurt_lacks_are_errors() -> None:
    with pytest.raises(ConfigError) as err:
        parse_agent_config(
            "client {\n  template {\n    consul_retry {\n      attempts = 3\n    }\n"
            '    block_query_wait = "soon"\n  }\n}\n',
            "tmpl.hcl",
        )
    lines = str(err.value).splitlines()
    assert lines[0].startswith('tmpl.hcl:3:5: unknown block "consul_retry" in client template')
    assert lines[1].startswith('tmpl.hcl:6:5: "block_query_wait" in client template: invalid')


# Keys and blocks of a Nomad agent config that yurt does not implement: each is an error at
# its position that names it and says why (issue 13: nothing silently ignored).
# (config text, "line:column: message" fragment)
REJECTED_AGENT_KEYS: list[tuple[str, str]] = [
    ('encrypt = "k"\n', '1:1: unknown key "encrypt" in the agent config'),
    ('server {\n  encrypt = "k"\n}\n', '2:3: "encrypt" in server: yurt does not support'),
    ("server {\n  bootstrap_expect = 0\n}\n", '2:3: "bootstrap_expect" in server: must be 1 or'),
    ("server {\n  num_schedulers = 2\n}\n", '2:3: "num_schedulers" in server: yurt does not'),
    (
        "consul {\n  client_auto_join = false\n}\n",
        '2:3: "client_auto_join" in consul: yurt supports only client_auto_join = true',
    ),
    ("log_json = true\n", '1:1: "log_json" in the agent config: yurt does not support'),
    ("enable_debug = true\n", '1:1: "enable_debug" in the agent config: yurt does not'),
    (
        "leave_on_terminate = false\n",
        '1:1: "leave_on_terminate" in the agent config: yurt supports only',
    ),
    ('log_level = "loud"\n', '1:1: "log_level" in the agent config: unknown level "loud"'),
    ("ports {\n  rpc = 4647\n}\n", '2:3: "rpc" in ports: yurt does not support "rpc": yurt\'s RPC'),
    ("ports {\n  serf = 4648\n}\n", '2:3: "serf" in ports: yurt does not support "serf"'),
    ('addresses {\n  rpc = "0.0.0.0"\n}\n', '2:3: "rpc" in addresses: yurt does not support'),
    ("client {\n  network_interface = 7\n}\n", '2:3: "network_interface" in client'),
    (
        "client {\n  memory_total_mb = 0\n}\n",
        '2:3: "memory_total_mb" in client: expected a positive',
    ),
    ('advertise {\n  http = "nohost"\n}\n', '2:3: "http" in advertise: expected "host:port"'),
    (
        "telemetry {\n  disable_hostname = true\n}\n",
        '1:1: yurt does not support the "telemetry" block',
    ),
    (
        "server_join {\n  retry_join = []\n}\n",
        '1:1: yurt does not support the "server_join" block: servers find',
    ),
    ("vault {\n  enabled = true\n}\n", '1:1: yurt does not support the "vault" block'),
    ("ui {\n  enabled = false\n}\n", '1:1: yurt does not support the "ui" block'),
    ("audit {\n  enabled = true\n}\n", '1:1: yurt does not support the "audit" block'),
    (
        'plugin "raw_exec" {\n  config {\n    no_cgroups = false\n  }\n}\n',
        '3:5: "no_cgroups" in plugin "raw_exec" config: yurt supports only no_cgroups = true',
    ),
    (
        'plugin "docker" {\n  config {\n    gc {\n      image = true\n    }\n  }\n}\n',
        '3:5: "gc" in plugin "docker" config: yurt does not support "gc"',
    ),
    ("tls {\n  rpc = true\n}\n", "2:3: tls: rpc = true needs http = true"),
    (
        'tls {\n  tls_cipher_suites = "TLS_AES_128_GCM_SHA256"\n}\n',
        '2:3: "tls_cipher_suites" in tls: yurt does not support',
    ),
    (
        "tls {\n  rpc_upgrade_mode = true\n}\n",
        '2:3: "rpc_upgrade_mode" in tls: yurt does not support',
    ),
    (
        'tls {\n  tls_min_version = "tls9"\n}\n',
        '2:3: "tls_min_version" in tls: unknown tls_min_version "tls9"',
    ),
    (
        "tls {\n  http = true\n}\n",
        "1:1: tls: serving HTTPS needs a certificate: cert_file and key_file not set",
    ),
    (
        'tls {\n  http = true\n  cert_file = "/nope.pem"\n  key_file = "/nope.key"\n}\n',
        '1:1: tls: cert_file "/nope.pem": no such file',
    ),
    (
        'consul {\n  ssl = true\n  ca_file = "/nope-ca.pem"\n}\n',
        '1:1: consul: ca_file "/nope-ca.pem": no such file',
    ),
]


@pytest.mark.parametrize(("text", "expected"), REJECTED_AGENT_KEYS)
def test_unimplemented_keys_are_errors_at_their_position(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_agent_config(text, "agent.hcl")
    assert f"agent.hcl:{expected}" in str(info.value)


@pytest.mark.process  # openssl makes the throwaway CA
def test_tls_and_consul_tls_and_the_implemented_keys(tmp_path: Path) -> None:
    from tests.support.tls_ca import make_ca
    from yurt.agent import Agent

    ca = make_ca(tmp_path / "ca")
    pair = ca.issue("agent", ["DNS:server.global.nomad", "IP:127.0.0.1"])
    cfg = parse_agent_config(
        f'data_dir = "{tmp_path}"\nlog_level = "warn"\n'
        "tls {\n  http = true\n  rpc = true\n"
        f'  ca_file = "{ca.cert}"\n  cert_file = "{pair.cert}"\n  key_file = "{pair.key}"\n'
        "  verify_https_client = true\n  verify_server_hostname = true\n"
        '  tls_min_version = "tls13"\n'
        "}\n"
        f'consul {{\n  ssl = true\n  verify_ssl = false\n  ca_file = "{ca.cert}"\n'
        '  tags = ["a", "b"]\n  server_auto_join = true\n}\n'
        'advertise {\n  http = "10.0.0.5:4646"\n  rpc = "10.0.0.5:4647"\n}\n'
        'server {\n  bootstrap_expect = 1\n  heartbeat_grace = "30s"\n}\n'
        "client {\n  cpu_total_compute = 4000\n  memory_total_mb = 2048\n}\n"
        'plugin "raw_exec" {\n  config {\n    no_cgroups = true\n  }\n}\n'
        "leave_on_interrupt = true\ndisable_update_check = false\n",
        "tls.hcl",
    )
    assert cfg.tls.http and cfg.tls.verify_incoming and cfg.tls.verify_server_hostname
    assert (cfg.tls.ca_file, cfg.tls.tls_min_version) == (str(ca.cert), "tls13")
    assert cfg.consul_tls is not None
    assert (cfg.consul_tls.http, cfg.consul_tls.verify_outgoing) == (True, False)
    assert (cfg.log_level, cfg.consul_tags, cfg.advertise_http) == (
        "WARN",
        ["a", "b"],
        "10.0.0.5:4646",
    )
    agent = Agent(cfg)
    by_name = {c.name: c for c in agent.components}
    sched = by_name["scheduler"].config  # type: ignore[attr-defined]
    client = by_name["client"].config  # type: ignore[attr-defined]
    assert sched.tls == cfg.tls and client.tls == cfg.tls
    assert sched.consul_addr.startswith("https://") and client.consul_addr.startswith("https://")
    assert sched.consul_tags == ["a", "b"] and sched.advertise_http == "10.0.0.5:4646"
    assert sched.heartbeat_grace == 30 * 10**9
    assert (client.cpu_total_compute, client.memory_total_mb) == (4000, 2048)
    router = by_name["router"].config  # type: ignore[attr-defined]
    assert (router.consul_scheme, router.consul_insecure) == ("https", True)
    assert agent.addresses.scheduler.startswith("https://")
    # verify_https_client: the Nomad agents register no check, so readiness waits for none.
    assert agent.agent_service_names() == ["consul", "fabio"]


def test_network_interface_reaches_the_client(tmp_path: Path) -> None:
    from yurt.agent import Agent

    cfg = parse_agent_config(
        f'data_dir = "{tmp_path}"\nclient {{\n  network_interface = "lo"\n}}\n', "net.hcl"
    )
    assert cfg.network_interface == "lo"
    agent = Agent(cfg)
    client = {c.name: c for c in agent.components}["client"].config  # type: ignore[attr-defined]
    assert client.network_interface == "lo"


def test_acl_settings_reach_the_components(tmp_path: Path) -> None:
    from yurt.agent import Agent

    cfg = parse_agent_config(
        f'data_dir = "{tmp_path}"\n'
        'acl {\n  enabled = true\n  token_ttl = "5s"\n}\n'
        'consul {\n  token = "c0ffee"\n}\n'
        'http_allowed_origins = ["https://ops.example.com"]\n',
        "acl.hcl",
    )
    agent = Agent(cfg)
    by_name = {c.name: c for c in agent.components}
    client = by_name["client"].config  # type: ignore[attr-defined]
    scheduler = by_name["scheduler"].config  # type: ignore[attr-defined]
    assert client.acl_token_ttl == 5.0
    assert scheduler.acl_enabled is True
    assert client.consul_token == scheduler.consul_token == "c0ffee"
    assert client.allowed_origins == scheduler.allowed_origins == ["https://ops.example.com"]


def test_limits_block_reaches_the_scheduler_and_the_client(tmp_path: Path) -> None:
    from yurt.agent import Agent

    cfg = parse_agent_config(
        f'data_dir = "{tmp_path}"\n'
        "limits {\n"
        '  https_handshake_timeout = "2s"\n'
        "  http_max_conns_per_client = 7\n"
        '  http_read_header_timeout = "1500ms"\n'
        '  http_idle_timeout = "0"\n'
        "}\n",
        "limits.hcl",
    )
    agent = Agent(cfg)
    by_name = {c.name: c for c in agent.components}
    for name in ("scheduler", "client"):
        limits = by_name[name].config.http_limits  # type: ignore[attr-defined]
        assert (
            limits.handshake_timeout,
            limits.max_conns_per_client,
            limits.header_timeout,
            limits.idle_timeout,
            limits.answer_429,  # Nomad closes without an answer
        ) == (2.0, 7, 1.5, 0.0, False)


def test_limits_default_to_nomads() -> None:
    limits = parse_agent_config("", "empty.hcl").http_limits
    assert (limits.max_conns_per_client, limits.handshake_timeout) == (100, 5.0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "limits {\n  http_max_conns_per_client = -1\n}\n",
            'l.hcl:2:3: "http_max_conns_per_client" in limits: expected a number of connections',
        ),
        (
            'limits {\n  https_handshake_timeout = "soon"\n}\n',
            'l.hcl:2:3: "https_handshake_timeout" in limits: invalid duration',
        ),
        (
            "limits {\n  https_handshake_timeout = 5\n}\n",
            'l.hcl:2:3: "https_handshake_timeout" in limits must be a string',
        ),
        (
            "limits {\n  rpc_max_conns_per_client = 20\n}\n",
            'l.hcl:2:3: "rpc_max_conns_per_client" in limits: yurt does not support '
            '"rpc_max_conns_per_client": yurt\'s RPC travels on the HTTP listener',
        ),
        (
            'limits {\n  rpc_handshake_timeout = "5s"\n}\n',
            'l.hcl:2:3: "rpc_handshake_timeout" in limits: yurt does not support',
        ),
        (
            "limits {\n  http_max_conns = 20\n}\n",
            'l.hcl:2:3: unknown key "http_max_conns" in limits; did you mean '
            '"http_max_conns_per_client"?',
        ),
    ],
)
def test_bad_limits_are_errors_at_their_position(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_agent_config(text, "l.hcl")
    assert str(err.value).startswith(expected), str(err.value)

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

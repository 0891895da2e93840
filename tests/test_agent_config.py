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

"""`yurt up -acl-enabled`: the catalog denies by default, the internal components get a token of
their own (without using up the user's bootstrap), and the user works with the bootstrap token
in CONSUL_HTTP_TOKEN or `-token`."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import consul

from tests.support.process import YurtProcess, free_port, wait_for
from yurt.catalog.acl_setup import AGENT_TOKEN_DESCRIPTION, AGENT_TOKEN_FILE


def _yurt(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "yurt", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
    )


def test_up_with_acls(tmp_path: Path) -> None:
    catalog_port, nomad_port = free_port(), free_port()
    config = tmp_path / "agent.hcl"
    config.write_text(
        f"ports {{ http = {nomad_port} }}\n"
        'plugin "raw_exec" {\n  config {\n    enabled = true\n  }\n}\n'
        'consul {\n  server_service_name = "nomad"\n  client_service_name = "nomad-client"\n}\n'
        f'consul {{ address = "127.0.0.1:{catalog_port}" }}\n'
        f'router {{\n  proxy_addr = "127.0.0.1:{free_port()}"\n'
        f'  ui_addr = "127.0.0.1:{free_port()}"\n}}\n'
    )
    data = tmp_path / "data"
    url = f"http://127.0.0.1:{catalog_port}"
    proc = YurtProcess(
        ["up", "-acl-enabled", "-data-dir", str(data), "-config", str(config)],
        ready_url=f"{url}/v1/status/leader",
        log_path=tmp_path / "up.log",
        timeout=60,
    )
    with proc:
        anonymous = consul.Consul(host="127.0.0.1", port=catalog_port, token="")
        # the one-time bootstrap is still the user's
        boot = anonymous.acl.bootstrap()
        mgmt = consul.Consul(host="127.0.0.1", port=catalog_port, token=boot["SecretID"])

        # the components' own token: made by the catalog, its secret kept 0600
        secret_file = data / "catalog" / AGENT_TOKEN_FILE
        assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
        internal = [t for t in mgmt.acl.token.list() if t["Description"] == AGENT_TOKEN_DESCRIPTION]
        assert len(internal) == 1
        assert internal[0]["SecretID"] == secret_file.read_text().strip()
        assert internal[0]["TemplatedPolicies"] == [{"TemplateName": "builtin/nomad-client"}]

        # the router registered itself through the ACLs, and its health check passes
        def router_passing() -> bool:
            entries = mgmt.health.service("fabio", passing=True)[1]
            return bool(entries)

        wait_for(router_passing, timeout=30, what="the router's service to pass")
        # and so did the scheduler and the client, with the token yurt up gave them
        for name in ("nomad", "nomad-client"):
            wait_for(
                lambda name=name: bool(mgmt.health.service(name, passing=True)[1]),
                timeout=30,
                what=f"the {name} service to pass",
            )
        # an anonymous reader sees nothing of it
        assert anonymous.catalog.services()[1] == {}

        env = {"CONSUL_HTTP_ADDR": url, "CONSUL_HTTP_TOKEN": ""}
        refused = _yurt("kv", "put", "app/greeting", "hello", env=env)
        assert refused.returncode != 0
        assert "lacks permission 'key:write' on \"app/greeting\"" in refused.stderr

        ok = _yurt(
            "kv", "put", "app/greeting", "hello", env={**env, "CONSUL_HTTP_TOKEN": boot["SecretID"]}
        )
        assert ok.returncode == 0, ok.stderr
        got = _yurt("kv", "get", "-token", boot["SecretID"], "app/greeting", env=env)
        assert got.returncode == 0, got.stderr
        assert got.stdout.strip() == "hello"

        # Nomad's side: refused without a token, the bootstrap token in NOMAD_TOKEN works, and
        # the job's service reaches the catalog through the client's internal token.
        nenv = {"NOMAD_ADDR": f"http://127.0.0.1:{nomad_port}", "NOMAD_TOKEN": ""}
        job = tmp_path / "web.nomad"
        job.write_text(WEB_JOB)
        denied = _yurt("job", "run", "-detach", str(job), env=nenv)
        assert denied.returncode != 0
        assert "Permission denied" in denied.stderr + denied.stdout
        boot_out = _yurt("acl", "bootstrap", "-json", env=nenv)
        assert boot_out.returncode == 0, boot_out.stderr
        nenv["NOMAD_TOKEN"] = json.loads(boot_out.stdout)["SecretID"]
        ran = _yurt("job", "run", "-detach", str(job), env=nenv)
        assert ran.returncode == 0, ran.stderr
        wait_for(
            lambda: bool(mgmt.health.service("acl-web", passing=True)[1]),
            timeout=30,
            what="the job's service registered and passing",
        )
        status = _yurt("job", "status", "web", env=nenv)
        assert status.returncode == 0, status.stderr
        assert "running" in status.stdout


WEB_JOB = """
job "web" {
  datacenters = ["dc1"]
  group "g" {
    network {
      port "http" {}
    }
    service {
      name = "acl-web"
      port = "http"
      check {
        type     = "tcp"
        interval = "1s"
        timeout  = "1s"
      }
    }
    task "t" {
      driver = "raw_exec"
      config {
        command = "python3"
        args    = ["-m", "http.server", "${NOMAD_PORT_http}", "--bind", "127.0.0.1"]
      }
    }
  }
}
"""

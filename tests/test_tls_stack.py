"""TLS across a real `yurt up`: Nomad's `tls { }` on the scheduler and the client (mutual TLS
with verify_https_client), Consul's `tls { defaults }` + `ports { https, http = -1 }` on the
catalog, all made from a throwaway CA. python-nomad and py-consul work with the CA and a
certificate, a job runs (the client reaches the scheduler, the scheduler forwards to the
client, both over mutual TLS), plain HTTP and callers without a certificate are refused, and
the CLI works with NOMAD_CACERT / CONSUL_CACERT (and alloc exec's WebSocket over wss)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import consul
import nomad
import pytest
import requests

from tests.support.process import YurtProcess, free_port, wait_for
from tests.support.tls_ca import Pair, TestCA, make_ca

pytestmark = pytest.mark.slow

JOB = """
job "hello" {
  datacenters = ["dc1"]
  type = "batch"
  group "g" {
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo hello over tls"]
      }
    }
  }
}
"""

SERVICE_JOB = """
job "sleeper" {
  datacenters = ["dc1"]
  group "g" {
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/sleep"
        args    = ["300"]
      }
    }
  }
}
"""


@dataclass
class Stack:
    ca: TestCA
    agent: Pair
    user: Pair
    scheduler: int
    catalog_https: int
    catalog_http: int
    tmp: Path

    @property
    def nomad_url(self) -> str:
        return f"https://127.0.0.1:{self.scheduler}"

    @property
    def catalog_url(self) -> str:
        return f"https://127.0.0.1:{self.catalog_https}"

    @property
    def cert(self) -> tuple[str, str]:
        return str(self.user.cert), str(self.user.key)

    def nomad(self) -> nomad.Nomad:
        return nomad.Nomad(
            host="127.0.0.1",
            port=self.scheduler,
            secure=True,
            verify=str(self.ca.cert),
            cert=self.cert,
            timeout=10,
        )

    def cli(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("NOMAD_", "CONSUL_"))}
        return subprocess.run(
            [sys.executable, "-m", "yurt", *args],
            capture_output=True,
            text=True,
            timeout=60,
            env={**clean, **(env or {})},
        )

    def nomad_env(self) -> dict[str, str]:
        return {
            "NOMAD_ADDR": self.nomad_url,
            "NOMAD_CACERT": str(self.ca.cert),
            "NOMAD_CLIENT_CERT": str(self.user.cert),
            "NOMAD_CLIENT_KEY": str(self.user.key),
        }


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("tls-stack")
    ca = make_ca(tmp / "ca")
    agent = ca.issue(
        "agent",
        ["DNS:server.global.nomad", "DNS:client.global.nomad", "DNS:localhost", "IP:127.0.0.1"],
    )
    user = ca.issue("cli", ["DNS:cli.global.nomad"])
    ports = {n: free_port() for n in ("scheduler", "catalog", "https", "ui", "proxy")}
    catalog_dir = tmp / "catalog.d"
    catalog_dir.mkdir()
    (catalog_dir / "tls.hcl").write_text(
        "tls {\n  defaults {\n"
        f'    ca_file   = "{ca.cert}"\n'
        f'    cert_file = "{agent.cert}"\n'
        f'    key_file  = "{agent.key}"\n'
        '    tls_min_version = "TLSv1_2"\n'
        "  }\n}\n"
        f"ports {{\n  https = {ports['https']}\n  http  = -1\n}}\n"
    )
    config = tmp / "agent.hcl"
    config.write_text(
        f"ports {{ http = {ports['scheduler']} }}\n"
        "consul {\n"
        f'  address = "127.0.0.1:{ports["catalog"]}"\n'
        '  tags    = ["tls-test"]\n'
        "}\n"
        f'catalog {{ config_dir = "{catalog_dir}" }}\n'
        "tls {\n"
        "  http = true\n"
        "  rpc  = true\n"
        f'  ca_file   = "{ca.cert}"\n'
        f'  cert_file = "{agent.cert}"\n'
        f'  key_file  = "{agent.key}"\n'
        "  verify_https_client    = true\n"
        "  verify_server_hostname = true\n"
        "}\n"
        f'router {{\n  proxy_addr = "127.0.0.1:{ports["proxy"]}"\n'
        f'  ui_addr = "127.0.0.1:{ports["ui"]}"\n}}\n'
    )
    proc = YurtProcess(
        ["up", "-dev", "-config", str(config)],
        ready_url=None,
        log_path=tmp / "yurt.log",
    )
    with proc:
        s = Stack(ca, agent, user, ports["scheduler"], ports["https"], ports["catalog"], tmp)

        def node_ready() -> bool:
            try:
                nodes = s.nomad().nodes.get_nodes()
            except Exception:
                return False
            return any(n["Status"] == "ready" for n in nodes)

        try:
            wait_for(node_ready, timeout=60, what="the client node, over mutual TLS")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n--- yurt log ---\n{proc.log()}") from None
        yield s


def test_python_nomad_runs_a_job_over_mutual_tls(stack: Stack) -> None:
    api = stack.nomad()
    job = api.jobs.parse(JOB)
    api.jobs.register_job({"Job": job})

    def complete() -> str | None:
        allocs = api.job.get_allocations("hello")
        done = [a for a in allocs if a["ClientStatus"] == "complete"]
        return done[0]["ID"] if done else None

    alloc_id = wait_for(complete, timeout=60, what="the batch job to complete")
    # Read through the scheduler, which forwards to the client's HTTPS API with its cert.
    out = requests.get(
        f"{stack.nomad_url}/v1/client/fs/cat/{alloc_id}",
        params={"path": "alloc/logs/t.stdout.0"},
        verify=str(stack.ca.cert),
        cert=stack.cert,
        timeout=10,
    )
    assert out.status_code == 200, out.text
    assert out.text == "hello over tls\n"
    node = api.nodes.get_nodes()[0]
    assert api.node.get_node(node["ID"])["TLSEnabled"] is True


def test_py_consul_reads_the_catalog_over_https(stack: Stack) -> None:
    c = consul.Consul(
        host="127.0.0.1", port=stack.catalog_https, scheme="https", verify=str(stack.ca.cert)
    )
    c.kv.put("tls/key", "value")
    assert c.kv.get("tls/key")[1]["Value"] == b"value"
    # The agents registered themselves over HTTPS too, with consul { tags }.
    services = wait_for(
        lambda: (lambda s: s if "nomad-client" in s else None)(c.catalog.services()[1]),
        timeout=30,
        what="the Nomad agents' services",
    )
    assert "tls-test" in services["nomad"]
    assert "tls-test" in services["nomad-client"]
    # The router watches the catalog over HTTPS too, and registered itself (passing).
    wait_for(
        lambda: c.health.service("fabio", passing=True)[1],
        timeout=30,
        what="the router's service, registered over HTTPS",
    )
    # verify_https_client: the agents register no health check (the checker has no cert).
    assert c.health.service("nomad")[1][0]["Checks"][1:] == []


def test_plain_http_is_refused(stack: Stack) -> None:
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"http://127.0.0.1:{stack.scheduler}/v1/jobs", timeout=5)
    # ports { http = -1 }: the catalog has no plain listener at all.
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"http://127.0.0.1:{stack.catalog_http}/v1/kv/tls/key", timeout=5)


def test_a_caller_without_a_certificate_is_refused(stack: Stack) -> None:
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"{stack.nomad_url}/v1/jobs", verify=str(stack.ca.cert), timeout=5)
    stranger = make_ca(stack.tmp / "stranger-ca", "stranger").issue("stranger")
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(
            f"{stack.nomad_url}/v1/jobs",
            verify=str(stack.ca.cert),
            cert=(str(stranger.cert), str(stranger.key)),
            timeout=5,
        )
    # A caller that does not trust the CA refuses the server.
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{stack.nomad_url}/v1/jobs", cert=stack.cert, timeout=5)


def test_the_cli_with_nomad_cacert_and_consul_cacert(stack: Stack) -> None:
    stack.nomad().jobs.register_job({"Job": stack.nomad().jobs.parse(JOB)})
    ok = stack.cli("job", "status", env=stack.nomad_env())
    assert ok.returncode == 0, ok.stderr
    assert "hello" in ok.stdout
    # The flags do what the variables do.
    flags = stack.cli(
        "job",
        "status",
        "-address",
        stack.nomad_url,
        "-ca-cert",
        str(stack.ca.cert),
        "-client-cert",
        str(stack.user.cert),
        "-client-key",
        str(stack.user.key),
    )
    assert flags.returncode == 0, flags.stderr
    # NOMAD_TLS_SERVER_NAME: the certificate is checked against that name instead.
    named = stack.cli(
        "job", "status", env={**stack.nomad_env(), "NOMAD_TLS_SERVER_NAME": "server.global.nomad"}
    )
    assert named.returncode == 0, named.stderr
    wrong = stack.cli(
        "job", "status", env={**stack.nomad_env(), "NOMAD_TLS_SERVER_NAME": "elsewhere.example"}
    )
    assert wrong.returncode == 1 and "elsewhere.example" in wrong.stderr
    untrusted = stack.cli("job", "status", env={"NOMAD_ADDR": stack.nomad_url})
    assert untrusted.returncode == 1
    assert "CERTIFICATE_VERIFY_FAILED" in untrusted.stderr
    missing = stack.cli("job", "status", env={**stack.nomad_env(), "NOMAD_CACERT": "/nope.pem"})
    assert missing.returncode == 1
    assert 'ca_file "/nope.pem": no such file' in missing.stderr

    consul_env = {"CONSUL_HTTP_ADDR": stack.catalog_url, "CONSUL_CACERT": str(stack.ca.cert)}
    put = stack.cli("kv", "put", "cli/key", "from-the-cli", env=consul_env)
    assert put.returncode == 0, put.stderr
    got = stack.cli("kv", "get", "cli/key", env=consul_env)
    assert got.stdout.strip() == "from-the-cli"
    # CONSUL_HTTP_SSL turns an address without a scheme into https.
    ssl_env = {
        "CONSUL_HTTP_ADDR": f"127.0.0.1:{stack.catalog_https}",
        "CONSUL_HTTP_SSL": "true",
        "CONSUL_CACERT": str(stack.ca.cert),
    }
    assert stack.cli("kv", "get", "cli/key", env=ssl_env).stdout.strip() == "from-the-cli"
    skip = stack.cli(
        "kv",
        "get",
        "cli/key",
        env={"CONSUL_HTTP_ADDR": stack.catalog_url, "CONSUL_HTTP_SSL_VERIFY": "false"},
    )
    assert skip.stdout.strip() == "from-the-cli"
    refused = stack.cli("kv", "get", "cli/key", env={"CONSUL_HTTP_ADDR": stack.catalog_url})
    assert refused.returncode != 0 and "CERTIFICATE_VERIFY_FAILED" in refused.stderr


def test_alloc_exec_over_wss(stack: Stack) -> None:
    api = stack.nomad()
    api.jobs.register_job({"Job": api.jobs.parse(SERVICE_JOB)})

    def running() -> str | None:
        allocs = api.job.get_allocations("sleeper")
        live = [a for a in allocs if a["ClientStatus"] == "running"]
        return live[0]["ID"] if live else None

    alloc_id = wait_for(running, timeout=60, what="the service job to run")
    time.sleep(0.5)
    out = stack.cli(
        "alloc", "exec", "-i", "false", "-t", "false", alloc_id, "/bin/echo", "exec over wss",
        env=stack.nomad_env(),
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout == "exec over wss\n"


def test_yurt_scheduler_tls_flags_check_their_files(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from yurt.cli import main

    result = CliRunner().invoke(
        main,
        ["scheduler", "-dev", "-tls-cert-file", str(tmp_path / "c.pem"), "-tls-key-file", "k"],
    )
    assert result.exit_code == 2
    assert f'cert_file "{tmp_path / "c.pem"}": no such file' in result.output
    result = CliRunner().invoke(
        main, ["scheduler", "-dev", "-tls-verify-https-client", "-tls-cert-file", "c"]
    )
    assert result.exit_code == 2 and "key_file not set" in result.output

"""A `yurt up` process on free ports, started with `nomad agent`'s flags, for the tests that
use it as a user would (over HTTP, and with the real `nomad` CLI)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from tests.support.process import YurtProcess, free_port, wait_for

REFERENCE_NOMAD = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "nomad"


@dataclass
class UpAgent:
    url: str
    node_id: str
    tmp: Path
    token: str = ""  # the management token, with -acl-enabled

    def get(self, path: str) -> Any:
        headers = {"X-Nomad-Token": self.token} if self.token else {}
        r = requests.get(self.url + path, headers=headers, timeout=10)
        r.raise_for_status()
        return r.json()


@contextmanager
def yurt_up(tmp: Path, *flags: str) -> Iterator[UpAgent]:
    http = free_port()
    config = tmp / "ports.hcl"
    config.write_text(
        f"ports {{ http = {http} }}\n"
        f'consul {{ address = "127.0.0.1:{free_port()}" }}\n'
        f'router {{\n  proxy_addr = "127.0.0.1:{free_port()}"\n'
        f'  ui_addr = "127.0.0.1:{free_port()}"\n}}\n'
    )
    url = f"http://127.0.0.1:{http}"
    args = ["up", "-dev", "-data-dir", str(tmp / "data"), "-config", str(config), *flags]
    proc = YurtProcess(args, ready_url=url + "/v1/agent/health", log_path=tmp / "up.log")
    with proc:
        token = ""
        if "-acl-enabled" in flags:
            boot = requests.post(url + "/v1/acl/bootstrap", timeout=10)
            boot.raise_for_status()
            token = str(boot.json()["SecretID"])
        headers = {"X-Nomad-Token": token} if token else {}

        def ready_node() -> str:
            nodes = requests.get(url + "/v1/nodes", headers=headers, timeout=5).json()
            return str(nodes[0]["ID"]) if nodes and nodes[0]["Status"] == "ready" else ""

        node_id = wait_for(ready_node, 60, "the agent's client node")
        yield UpAgent(url, node_id, tmp, token)

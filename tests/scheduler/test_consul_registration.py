"""The scheduler registers itself in Consul's catalog over Consul's HTTP API, retrying
while the catalog is not up, and deregisters on stop.

yurt's catalog is not in this tree yet, so a recording HTTP server on a free port plays
the agent endpoints and keeps what it was sent."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.scheduler.conftest import SchedulerProcess
from tests.scheduler.simnode import wait_for
from tests.support.process import free_port


class _Recorder(BaseHTTPRequestHandler):
    calls: list[tuple[str, str, dict]] = []

    def do_PUT(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        self.calls.append(("PUT", self.path, json.loads(raw) if raw else {}))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_registers_with_retry_and_deregisters(tmp_path: Path) -> None:
    consul_port = free_port()
    sched = SchedulerProcess(
        tmp_path,
        "-consul-addr",
        f"127.0.0.1:{consul_port}",
        "-server-service-name",
        "nomad-1-server",
    ).start()
    httpd = None
    try:
        # the catalog comes up after the scheduler: registration is retried
        httpd = ThreadingHTTPServer(("127.0.0.1", consul_port), _Recorder)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        wait_for(lambda: _Recorder.calls, timeout=15, what="registration")
        method, path, body = _Recorder.calls[0]
        assert (method, path) == ("PUT", "/v1/agent/service/register")
        assert body["Name"] == "nomad-1-server" and body["Tags"] == ["http"]
        assert body["Port"] == sched.port
        assert body["Check"]["Name"] == "Nomad Server HTTP Check"
        assert body["Check"]["HTTP"] == f"{sched.url}/v1/agent/health?type=server"
        sched.proc.stop()
        assert _Recorder.calls[-1][:2] == ("PUT", f"/v1/agent/service/deregister/{body['ID']}")
    finally:
        sched.proc.stop()
        if httpd is not None:
            httpd.shutdown()

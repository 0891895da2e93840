"""The client side of the scheduler's /v1/client/ forwarding for the UI tests: a small HTTP
server at the simulated node's HTTPAddr that serves task logs (growing on demand, streamed
while `follow=true`), allocation stats and an allocation directory's root listing, shaped as
a Nomad client answers them. (The file browser against a real client is tested in
tests/e2e/test_ui_walkthrough.py.)"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class FakeClientAPI:
    def __init__(self) -> None:
        self.logs: dict[tuple[str, str, str], str] = {}
        self.changed = threading.Condition()
        self.closing = False
        self.restarts: list[tuple[str, Any]] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                q = {k: v[-1] for k, v in parse_qs(url.query).items()}
                parts = url.path.strip("/").split("/")
                if parts[:4] == ["v1", "client", "fs", "logs"] and len(parts) == 5:
                    api._serve_logs(self, parts[4], q)
                elif parts[:3] == ["v1", "client", "allocation"] and parts[-1] == "stats":
                    body = json.dumps(
                        {
                            "ResourceUsage": {
                                "MemoryStats": {"RSS": 42 * 1024 * 1024, "Measured": ["RSS"]},
                                "CpuStats": {"Percent": 3.5, "TotalTicks": 87.0},
                            },
                            "Tasks": {},
                            "Timestamp": 0,
                        }
                    ).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                elif parts[:4] == ["v1", "client", "fs", "ls"] and q.get("path") == "/":
                    entry = {"IsDir": True, "Size": 4096, "FileMode": "drwxr-xr-x"}
                    body = json.dumps(
                        [
                            {**entry, "Name": "alloc", "ModTime": "2026-11-25T09:00:00Z"},
                            {**entry, "Name": "server", "ModTime": "2026-11-25T09:00:00Z"},
                        ]
                    ).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                else:
                    self.send_error(404, "no such client endpoint")

            def do_POST(self) -> None:
                parts = urlsplit(self.path).path.strip("/").split("/")
                if parts[:3] == ["v1", "client", "allocation"] and parts[-1] == "restart":
                    length = int(self.headers.get("Content-Length") or 0)
                    api.restarts.append((parts[3], json.loads(self.rfile.read(length) or b"{}")))
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"{}")
                else:
                    self.send_error(404, "no such client endpoint")

            do_PUT = do_POST

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def addr(self) -> str:
        host, port = self.server.server_address[:2]
        return f"{host!s}:{port}"

    def start(self) -> FakeClientAPI:
        self.thread.start()
        return self

    def stop(self) -> None:
        with self.changed:
            self.closing = True
            self.changed.notify_all()
        self.server.shutdown()
        self.server.server_close()

    def write(self, alloc_id: str, task: str, stream: str, text: str) -> None:
        with self.changed:
            key = (alloc_id, task, stream)
            self.logs[key] = self.logs.get(key, "") + text
            self.changed.notify_all()

    def _serve_logs(
        self, handler: BaseHTTPRequestHandler, alloc_id: str, q: dict[str, str]
    ) -> None:
        key = (alloc_id, q.get("task", ""), q.get("type", "stdout"))
        follow = q.get("follow") == "true"
        with self.changed:
            started = any(k[:2] == key[:2] for k in self.logs)
        if not started:
            # As a Nomad client answers for a task it is not running (yet).
            handler.send_error(400, f'unknown task name "{key[1]}"')
            return
        handler.send_response(200)
        handler.send_header("Content-Type", "text/plain; charset=utf-8")
        handler.end_headers()
        sent = 0
        try:
            while True:
                with self.changed:
                    text = self.logs.get(key, "")
                    if len(text) == sent and follow and not self.closing:
                        self.changed.wait(1.0)
                        text = self.logs.get(key, "")
                if len(text) > sent:
                    handler.wfile.write(text[sent:].encode())
                    handler.wfile.flush()
                    sent = len(text)
                if not follow or self.closing:
                    return
        except (BrokenPipeError, ConnectionResetError):
            return

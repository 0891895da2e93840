"""Templates watch the catalog with blocking queries: a real catalog, scheduler and client,
with a small counting proxy between the client and the catalog so the tests can see every
request the client makes (how many, with which index and wait)."""

from __future__ import annotations

import contextlib
import http.client
import http.server
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass

import consul
import pytest

from tests.catalog.conftest import CatalogProcess
from tests.client.conftest import ClientProcess, Cluster, wait_for
from tests.scheduler.conftest import SchedulerProcess


@dataclass(frozen=True)
class Request:
    at: float
    method: str
    path: str
    query: dict[str, str]


class CountingProxy:
    """Forwards HTTP/1.1 requests to the catalog and records them; answers 502 while the
    catalog is down (as a load balancer in front of Consul would)."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out as separate writes

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _forward(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
                with proxy._lock:
                    proxy.requests.append(Request(time.monotonic(), self.command, url.path, query))
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {
                    k: v
                    for k, v in self.headers.items()
                    if k.lower() not in ("host", "connection", "content-length")
                }
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=120)
                    conn.request(self.command, self.path, body=body, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                    status, out_headers = resp.status, resp.getheaders()
                    conn.close()
                except OSError as exc:
                    data = f"catalog down: {exc}".encode()
                    status, out_headers = 502, [("Content-Type", "text/plain")]
                # The client may have gone away (it stopped, or gave up on a blocking read).
                with contextlib.suppress(OSError):
                    self._answer(status, out_headers, data)

            def _answer(self, status: int, out_headers: list[tuple[str, str]], data: bytes) -> None:
                self.send_response(status)
                for k, v in out_headers:
                    if k.lower() not in ("content-length", "connection", "transfer-encoding"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = _forward

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def to(self, path: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Env:
    cluster: Cluster
    proxy: CountingProxy
    kv: consul.Consul


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp = tmp_path_factory.mktemp("templates")
    catalog = CatalogProcess(tmp / "catalog", "-dev").start()
    proxy = CountingProxy(catalog.port)
    sched = SchedulerProcess(tmp / "sched", "-heartbeat-ttl", "5s", "-heartbeat-grace", "15s")
    sched.start()
    client = ClientProcess(tmp, f"127.0.0.1:{sched.port}", f"127.0.0.1:{proxy.port}").start()
    try:
        yield Env(Cluster(sched, catalog, client), proxy, catalog.client())
    finally:
        client.proc.stop()
        sched.proc.stop(timeout=3)
        catalog.proc.stop()
        proxy.close()


# Prints the rendered config when it starts and on every SIGHUP: each "hup" line is one
# re-render that reached the task.
_HUP_SCRIPT = """
template {
  destination = "local/hup.py"
  change_mode = "noop"
  data        = <<EOT
import signal

def show(tag):
    with open("local/app.conf") as f:
        print(tag, " ".join(f.read().split()), flush=True)

signal.signal(signal.SIGHUP, lambda *a: show("hup"))
show("start")
while True:
    signal.pause()
EOT
}
"""


def _stdout(cluster: Cluster, alloc_id: str, task: str = "t") -> str:
    return cluster.get(
        f"/v1/client/fs/logs/{alloc_id}", params={"task": task, "type": "stdout", "plain": "1"}
    ).text


def _cat(cluster: Cluster, alloc_id: str, path: str) -> str:
    resp = cluster.get(f"/v1/client/fs/cat/{alloc_id}", params={"path": path})
    return resp.text if resp.status_code == 200 else ""


def test_kv_change_rerenders_once_and_same_value_does_not(env: Env) -> None:
    c = env.cluster
    env.kv.kv.put("tt/color", "blue")
    c.run(
        """
job "kvwatch" {
  datacenters = ["dc1"]
  group "g" {
    task "t" {
      driver = "raw_exec"
"""
        + _HUP_SCRIPT
        + """
      template {
        data          = <<EOT
color={{ key "tt/color" }} size={{ keyOrDefault "tt/size" "s" }}
EOT
        destination   = "local/app.conf"
        change_mode   = "signal"
        change_signal = "SIGHUP"
      }
      config {
        command = "python3"
        args    = ["local/hup.py"]
      }
    }
  }
}
"""
    )
    alloc = c.wait_alloc("kvwatch", "running")
    out = wait_for(lambda: _stdout(c, alloc["ID"]), what="the task printed its config")
    assert out == "start color=blue size=s\n"

    env.kv.kv.put("tt/color", "green")
    wait_for(lambda: "hup color=green" in _stdout(c, alloc["ID"]), 5, "the change delivered")
    # The same value again: a new index, the same data, so no render and no signal.
    env.kv.kv.put("tt/color", "green")
    env.kv.kv.put("tt/size", "m")
    wait_for(lambda: "size=m" in _stdout(c, alloc["ID"]), 5, "the second change delivered")
    assert _stdout(c, alloc["ID"]) == (
        "start color=blue size=s\nhup color=green size=s\nhup color=green size=m\n"
    )

    def signals() -> list[dict[str, str]]:
        events = c.alloc(alloc["ID"])["TaskStates"]["t"]["Events"]
        return [e for e in events if e["Type"] == "Signaling"]

    wait_for(lambda: len(signals()) >= 2, 5, "the signal events reported")
    assert len(signals()) == 2
    assert signals()[0]["TaskSignal"] == "SIGHUP"

    # Every read after the first of each key is a blocking one, with the index it saw.
    for key in ("/v1/kv/tt/color", "/v1/kv/tt/size"):
        reads = env.proxy.to(key)
        assert "index" not in reads[0].query
        assert all(
            r.query.get("wait") == "300000ms" and int(r.query["index"]) > 0 for r in reads[1:]
        )
    c.stop_job("kvwatch")
    c.wait_alloc("kvwatch", "complete")


def test_wait_coalesces_a_burst_into_one_render(env: Env) -> None:
    c = env.cluster
    env.kv.kv.put("tt/w/a", "1")
    c.run(
        """
job "quiet" {
  datacenters = ["dc1"]
  group "g" {
    task "t" {
      driver = "raw_exec"
"""
        + _HUP_SCRIPT
        + """
      template {
        data          = <<EOT
tree:{{ range tree "tt/w" }} {{ .Key }}={{ .Value }}{{ end }}
ls:{{ range ls "tt/w" }} {{ .Key }}{{ end }}
EOT
        destination   = "local/app.conf"
        change_mode   = "signal"
        change_signal = "SIGHUP"
        wait {
          min = "2s"
          max = "10s"
        }
      }
      config {
        command = "python3"
        args    = ["local/hup.py"]
      }
    }
  }
}
"""
    )
    alloc = c.wait_alloc("quiet", "running")
    # The first render does not wait for quiescence: the task started with the data.
    out = wait_for(lambda: _stdout(c, alloc["ID"]), what="the task printed its config")
    assert out == "start tree: a=1 ls: a\n"
    for key, value in (("tt/w/b", "2"), ("tt/w/c/d", "3"), ("tt/w/a", "9")):
        env.kv.kv.put(key, value)
    wait_for(lambda: "hup" in _stdout(c, alloc["ID"]), 15, "the burst rendered")
    assert _stdout(c, alloc["ID"]) == ("start tree: a=1 ls: a\nhup tree: a=9 b=2 c/d=3 ls: a b\n")
    c.stop_job("quiet")
    c.wait_alloc("quiet", "complete")


def test_service_check_going_critical_leaves_the_template(env: Env) -> None:
    c = env.cluster
    for sid, port in (("tt-db-a", 5001), ("tt-db-b", 5002)):
        env.kv.agent.service.register(
            "tt-db",
            service_id=sid,
            address="10.1.0.1",
            port=port,
            check=consul.Check.ttl("30s"),
        )
        env.kv.agent.check.ttl_pass(f"service:{sid}")
    c.run(
        """
job "svcwatch" {
  datacenters = ["dc1"]
  group "g" {
    task "t" {
      driver = "raw_exec"
      template {
        data        = <<EOT
{{ range service "tt-db" }}{{ .ID }}={{ .Address }}:{{ .Port }} {{ end }}
EOT
        destination = "local/db.txt"
        change_mode = "noop"
      }
      config {
        command = "sleep"
        args    = ["1000"]
      }
    }
  }
}
"""
    )
    alloc = c.wait_alloc("svcwatch", "running")
    path = "t/local/db.txt"
    assert _cat(c, alloc["ID"], path) == "tt-db-a=10.1.0.1:5001 tt-db-b=10.1.0.1:5002 \n"
    env.kv.agent.check.ttl_fail("service:tt-db-b", "down")
    wait_for(
        lambda: _cat(c, alloc["ID"], path) == "tt-db-a=10.1.0.1:5001 \n", 5, "b gone from the file"
    )
    env.kv.agent.check.ttl_pass("service:tt-db-b")
    wait_for(lambda: "tt-db-b" in _cat(c, alloc["ID"], path), 5, "b back in the file once passing")

    def rerenders() -> list[str]:
        events = c.alloc(alloc["ID"])["TaskStates"]["t"]["Events"]
        return [e["DisplayMessage"] for e in events if e["Type"] == "Template"]

    wait_for(lambda: len(rerenders()) >= 2, 5, "two re-render events")
    assert rerenders() == ["Template re-rendered", "Template re-rendered"]
    # As consul-template does for `service`: only passing instances, asked of the server.
    reads = env.proxy.to("/v1/health/service/tt-db")
    assert all(r.query.get("passing") == "1" for r in reads)
    c.stop_job("svcwatch")
    c.wait_alloc("svcwatch", "complete")
    for sid in ("tt-db-a", "tt-db-b"):
        env.kv.agent.service.deregister(sid)


def test_templates_share_one_watch_and_stay_quiet_when_nothing_changes(env: Env) -> None:
    c = env.cluster
    env.kv.kv.put("tt/shared", "one")
    task = """
    task "%s" {
      driver = "raw_exec"
      template {
        data        = "a={{ key \\"tt/shared\\" }}"
        destination = "local/a.txt"
        change_mode = "noop"
      }
      template {
        data        = "b={{ key \\"tt/shared\\" | toUpper }}"
        destination = "local/b.txt"
        change_mode = "noop"
      }
      config {
        command = "sleep"
        args    = ["1000"]
      }
    }
"""
    c.run(
        'job "shared" {\n  datacenters = ["dc1"]\n  group "g" {\n'
        + task % "t1"
        + task % "t2"
        + "  }\n}\n"
    )
    alloc = c.wait_alloc("shared", "running")
    key = "/v1/kv/tt/shared"
    # Four templates in two tasks, one dependency: one plain read, then one blocking read.
    wait_for(lambda: len(env.proxy.to(key)) == 2, 5, "the blocking read parked")
    assert "index" not in env.proxy.to(key)[0].query
    assert "index" in env.proxy.to(key)[1].query

    env.kv.kv.put("tt/shared", "two")
    for t in ("t1", "t2"):
        wait_for(
            lambda t=t: _cat(c, alloc["ID"], f"{t}/local/b.txt") == "b=TWO", 5, f"{t} re-rendered"
        )
        assert _cat(c, alloc["ID"], f"{t}/local/a.txt") == "a=two"
    wait_for(lambda: len(env.proxy.to(key)) == 3, 5, "the next blocking read parked")

    # Nothing changes now: no request at all for a few seconds (a poll would show up here;
    # the blocking read in flight ends only after its 5 minute wait).
    before = len(env.proxy.to(key))
    time.sleep(3)
    assert len(env.proxy.to(key)) == before
    c.stop_job("shared")
    c.wait_alloc("shared", "complete")
    # The watcher stops with the allocation: a change then brings no new read.
    stopped = "stopped watching kv.block(tt/shared)"
    wait_for(lambda: stopped in c.client.log(), 10, "the watcher stopped")
    env.kv.kv.put("tt/shared", "three")
    time.sleep(1)
    assert len(env.proxy.to(key)) == before


def test_catalog_down_and_back(env: Env) -> None:
    c = env.cluster
    env.kv.kv.put("tt/phase", "before")
    c.run(
        """
job "outage" {
  datacenters = ["dc1"]
  group "g" {
    task "t" {
      driver = "raw_exec"
      template {
        data        = "phase={{ key \\"tt/phase\\" }}"
        destination = "local/phase.txt"
        change_mode = "noop"
      }
      config {
        command = "sleep"
        args    = ["1000"]
      }
    }
  }
}
"""
    )
    alloc = c.wait_alloc("outage", "running")
    path, key = "t/local/phase.txt", "/v1/kv/tt/phase"
    assert _cat(c, alloc["ID"], path) == "phase=before"
    wait_for(lambda: len(env.proxy.to(key)) == 2, 5, "the blocking read parked")

    c.catalog.proc.stop()
    down_at = time.monotonic()
    wait_for(lambda: "tt/phase" in c.client.log() and "retrying" in c.client.log(), 10, "a warning")
    time.sleep(2)
    during = [r for r in env.proxy.to(key) if r.at >= down_at]
    # Backing off from 250 ms, doubling: a handful of retries, not one per event-loop turn.
    assert 1 <= len(during) <= 8, during
    # The file keeps its last content while the catalog is away.
    assert _cat(c, alloc["ID"], path) == "phase=before"

    c.catalog.start()  # -dev: an empty store whose index starts again from the bottom
    env.kv = c.catalog.client()
    env.kv.kv.put("tt/phase", "after")
    wait_for(lambda: _cat(c, alloc["ID"], path) == "phase=after", 15, "the new value rendered")
    # One warning for the outage, however many retries it took.
    warnings = [
        line
        for line in c.client.log().splitlines()
        if "kv.block(tt/phase)" in line and "retrying with backoff" in line
    ]
    assert len(warnings) == 1, warnings
    c.stop_job("outage")
    c.wait_alloc("outage", "complete")


def test_a_missing_key_holds_the_start_until_it_is_written(env: Env) -> None:
    c = env.cluster
    c.run(
        """
job "late" {
  datacenters = ["dc1"]
  group "g" {
    task "t" {
      driver = "raw_exec"
      template {
        data        = "late={{ key \\"tt/late\\" }}"
        destination = "local/late.txt"
      }
      config {
        command = "sleep"
        args    = ["1000"]
      }
    }
  }
}
"""
    )

    def messages() -> list[str]:
        allocs = c.allocs("late")
        if not allocs:
            return []
        state = (c.alloc(allocs[0]["ID"]).get("TaskStates") or {}).get("t") or {}
        return [e["DisplayMessage"] for e in state.get("Events") or [] if e["Type"] == "Template"]

    wait_for(lambda: "Missing: kv.block(tt/late)" in messages(), 10, "the Missing event")
    assert c.allocs("late")[0]["ClientStatus"] == "pending"
    env.kv.kv.put("tt/late", "here")
    alloc = c.wait_alloc("late", "running", timeout=10)
    assert _cat(c, alloc["ID"], "t/local/late.txt") == "late=here"
    c.stop_job("late")
    c.wait_alloc("late", "complete")


def test_reattached_task_keeps_its_templates_watched(env: Env) -> None:
    c = env.cluster
    env.kv.kv.put("tt/mode", "one")
    c.run(
        """
job "reattach" {
  datacenters = ["dc1"]
  group "g" {
    task "t" {
      driver = "raw_exec"
"""
        + _HUP_SCRIPT
        + """
      template {
        data          = "mode={{ key \\"tt/mode\\" }}\\n"
        destination   = "local/app.conf"
        change_mode   = "signal"
        change_signal = "SIGHUP"
      }
      config {
        command = "python3"
        args    = ["local/hup.py"]
      }
    }
  }
}
"""
    )
    alloc = c.wait_alloc("reattach", "running")
    wait_for(lambda: _stdout(c, alloc["ID"]) == "start mode=one\n", what="the task started")

    # The client dies (kill -9) and the data changes while it is away.
    c.client.proc.kill()
    env.kv.kv.put("tt/mode", "two")
    c.client.start()
    # The re-attached task is signalled with the new file, once...
    wait_for(lambda: "hup mode=two" in _stdout(c, alloc["ID"]), 15, "the change made while away")
    # ...and its templates are watched again: a later change reaches it too.
    env.kv.kv.put("tt/mode", "three")
    wait_for(lambda: "hup mode=three" in _stdout(c, alloc["ID"]), 10, "a change after re-attach")
    assert _stdout(c, alloc["ID"]) == "start mode=one\nhup mode=two\nhup mode=three\n"
    events = c.alloc(alloc["ID"])["TaskStates"]["t"]["Events"]
    assert [e["Type"] for e in events].count("Started") == 1  # the same process throughout
    c.stop_job("reattach")
    c.wait_alloc("reattach", "complete")


def test_key_exists_and_helpers_render_and_follow_the_key(env: Env) -> None:
    c = env.cluster
    env.kv.kv.delete("tt/flag")
    c.run(
        """
job "exists" {
  datacenters = ["dc1"]
  group "g" {
    task "t" {
      driver = "raw_exec"
      template {
        data        = <<EOT
{{ if keyExists "tt/flag" }}on:{{ key "tt/flag" | toUpper | trimPrefix "X" }}{{ else }}off{{ end }}
EOT
        destination = "local/flag"
        change_mode = "noop"
      }
      config {
        command = "/bin/sleep"
        args    = ["1000"]
      }
    }
  }
}
"""
    )
    alloc = c.wait_alloc("exists", "running")
    # A missing key does not hold the start when only keyExists asks for it.
    assert wait_for(lambda: _cat(c, alloc["ID"], "t/local/flag"), what="rendered") == "off\n"
    env.kv.kv.put("tt/flag", "xyes")
    wait_for(lambda: _cat(c, alloc["ID"], "t/local/flag") == "on:YES\n", 5, "the key seen")
    env.kv.kv.delete("tt/flag")
    wait_for(lambda: _cat(c, alloc["ID"], "t/local/flag") == "off\n", 5, "the key gone")
    c.stop_job("exists")
    c.wait_alloc("exists", "complete")

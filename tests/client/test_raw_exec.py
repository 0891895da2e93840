"""raw_exec tasks on a real client against a real scheduler and catalog: environment,
services and checks, logs and files, restart policy, lifecycle hooks, nginx and redis, and
re-attaching after the client is killed with -9."""

from __future__ import annotations

import base64
import json
import socket
from pathlib import Path

import requests

from tests.client.conftest import Cluster, events, pid_alive, wait_for

PYWEB = """
job "pyweb" {
  datacenters = ["dc1"]
  meta { team = "yurt" }
  group "web" {
    network {
      port "http" {}
    }
    service {
      name    = "pyweb"
      tags    = ["urlprefix-/py", "web"]
      port    = "http"
      address = "host.docker.internal"
      check {
        type     = "http"
        path     = "/"
        interval = "1s"
        timeout  = "1s"
      }
    }
    task "server" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args = ["-c", <<EOT
env > local/env.txt; echo $$ > local/pid; echo started on ${NOMAD_PORT_http}
exec python3 -m http.server ${NOMAD_PORT_http} --bind 127.0.0.1
EOT
        ]
      }
      env {
        GREETING = "hello from ${node.datacenter} on ${attr.kernel.name}"
      }
      service {
        name = "pyweb-task"
        port = "http"
        check {
          type     = "tcp"
          interval = "1s"
          timeout  = "1s"
        }
      }
    }
  }
}
"""


def _env(cluster: Cluster, alloc_id: str) -> dict[str, str]:
    resp = cluster.get(f"/v1/client/fs/cat/{alloc_id}", params={"path": "server/local/env.txt"})
    resp.raise_for_status()
    return dict(line.split("=", 1) for line in resp.text.splitlines() if "=" in line)


def test_node_registers_with_fingerprint(cluster: Cluster) -> None:
    nodes = wait_for(lambda: cluster.api.nodes.get_nodes(), what="a node")
    node = cluster.api.node.get_node(nodes[0]["ID"])
    assert node["Name"] == "nomad-1-client"
    assert node["Status"] == "ready"
    assert node["HTTPAddr"] == f"127.0.0.1:{cluster.client.port}"
    attrs = node["Attributes"]
    for key in (
        "unique.hostname",
        "kernel.name",
        "os.name",
        "cpu.arch",
        "cpu.numcores",
        "cpu.totalcompute",
        "memory.totalbytes",
        "unique.network.ip-address",
    ):
        assert attrs.get(key), key
    assert attrs["kernel.name"] == "linux"
    assert attrs["driver.raw_exec"] == "1"
    assert int(attrs["cpu.totalcompute"]) >= int(attrs["cpu.numcores"])
    assert node["Drivers"]["raw_exec"]["Healthy"] is True
    assert node["Meta"] == {"rack": "r1"}
    # The client advertises itself in the catalog, as Nomad's auto_advertise does.
    services = wait_for(lambda: cluster.consul.catalog.service("nomad-1-client")[1])
    assert services and services[0]["ServicePort"] == cluster.client.port


def test_service_task_env_logs_and_stop(cluster: Cluster) -> None:
    cluster.run(PYWEB)
    alloc = cluster.wait_alloc("pyweb", "running")
    alloc_id = alloc["ID"]
    port = alloc["AllocatedResources"]["Shared"]["Ports"][0]["Value"]
    assert events(alloc, "server")[:3] == ["Received", "Task Setup", "Started"]

    env = wait_for(lambda: _env(cluster, alloc_id).get("GREETING") and _env(cluster, alloc_id))
    assert env["GREETING"] == "hello from dc1 on linux"
    assert env["NOMAD_ALLOC_ID"] == alloc_id
    assert env["NOMAD_PORT_http"] == env["NOMAD_HOST_PORT_http"] == str(port)
    assert env["NOMAD_ADDR_http"] == f"127.0.0.1:{port}"
    assert env["NOMAD_JOB_NAME"] == "pyweb"
    assert env["NOMAD_GROUP_NAME"] == "web"
    assert env["NOMAD_TASK_NAME"] == "server"
    assert env["NOMAD_ALLOC_INDEX"] == "0"
    assert env["NOMAD_DC"] == "dc1"
    assert env["NOMAD_REGION"] == "global"
    assert env["NOMAD_NAMESPACE"] == "default"
    assert env["NOMAD_META_team"] == "yurt"
    assert env["NOMAD_CPU_LIMIT"] == "100"
    assert env["NOMAD_MEMORY_LIMIT"] == "300"
    assert env["NOMAD_TASK_DIR"].endswith(f"/alloc/{alloc_id}/server/local")
    assert env["NOMAD_ALLOC_DIR"].endswith(f"/alloc/{alloc_id}/alloc")
    assert env["NOMAD_SECRETS_DIR"].endswith(f"/alloc/{alloc_id}/server/secrets")

    # Both services pass in the catalog under Nomad's service IDs.
    group = wait_for(lambda: cluster.passing("pyweb"), what="pyweb passing")
    svc = group[0]["Service"]
    assert svc["ID"] == f"_nomad-task-{alloc_id}-group-web-pyweb-http"
    assert svc["Port"] == port
    assert svc["Tags"] == ["urlprefix-/py", "web"]
    assert svc["Address"] in ("127.0.0.1", "host.docker.internal")
    task_svc = wait_for(lambda: cluster.passing("pyweb-task"), what="pyweb-task passing")
    assert task_svc[0]["Service"]["ID"] == f"_nomad-task-{alloc_id}-server-pyweb-task-http"

    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        assert s.recv(64).startswith(b"HTTP/1.0 200")

    # Logs through the scheduler, which forwards to the client: plain and framed.
    def stdout() -> str:
        return cluster.get(
            f"/v1/client/fs/logs/{alloc_id}",
            params={"task": "server", "type": "stdout", "plain": "true"},
        ).text

    plain = wait_for(lambda: stdout().count("\n") >= 2 and stdout())
    assert plain.startswith(f"started on {port}\nServing HTTP on 127.0.0.1 port {port}")
    framed = cluster.get(
        f"/v1/client/fs/logs/{alloc_id}", params={"task": "server", "type": "stdout"}
    ).text
    frame = json.loads(framed)
    assert base64.b64decode(frame["Data"]).decode() == plain
    assert frame["File"] == "alloc/logs/server.stdout.0"
    tail = cluster.get(
        f"/v1/client/fs/logs/{alloc_id}",
        params={
            "task": "server",
            "type": "stdout",
            "plain": "true",
            "origin": "end",
            "offset": "3",
        },
    ).text
    assert tail == plain[-3:]
    listing = cluster.get(f"/v1/client/fs/ls/{alloc_id}", params={"path": "alloc/logs"}).json()
    assert {"server.stdout.0", "server.stderr.0"} <= {f["Name"] for f in listing}
    escape = cluster.get(f"/v1/client/fs/cat/{alloc_id}", params={"path": "../../../../etc/passwd"})
    assert escape.status_code == 403
    bad = cluster.get(f"/v1/client/fs/logs/{alloc_id}", params={"task": "server", "type": "x"})
    assert bad.status_code == 400

    stats = cluster.get(f"/v1/client/allocation/{alloc_id}/stats").json()
    assert stats["Tasks"]["server"]["ResourceUsage"]["MemoryStats"]["RSS"] > 0

    pid = int(
        cluster.get(f"/v1/client/fs/cat/{alloc_id}", params={"path": "server/local/pid"}).text
    )
    assert pid_alive(pid)
    cluster.stop_job("pyweb")
    done = cluster.wait_alloc("pyweb", "complete")
    assert events(done, "server")[-3:] == ["Killing", "Terminated", "Killed"]
    assert not pid_alive(pid)
    wait_for(lambda: not cluster.consul.catalog.service("pyweb")[1], what="pyweb deregistered")
    assert not cluster.consul.catalog.service("pyweb-task")[1]


def test_restart_policy_then_failure(cluster: Cluster) -> None:
    cluster.run(
        """
job "crash" {
  datacenters = ["dc1"]
  group "g" {
    restart {
      attempts = 1
      delay    = "200ms"
      interval = "1m"
      mode     = "fail"
    }
    reschedule {
      attempts  = 0
      unlimited = false
    }
    task "boom" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo boom >&2; exit 3"]
      }
    }
  }
}
"""
    )
    alloc = cluster.wait_alloc("crash", "failed")
    state = alloc["TaskStates"]["boom"]
    assert state["State"] == "dead" and state["Failed"] is True
    assert state["Restarts"] == 1
    kinds = events(alloc, "boom")
    assert kinds[-6:] == [
        "Started",
        "Terminated",
        "Restarting",
        "Started",
        "Terminated",
        "Not Restarting",
    ]
    last = state["Events"][-1]
    assert last["FailsTask"] is True
    assert (
        'Exceeded allowed attempts 1 in interval 1m0s and mode is "fail"' in last["DisplayMessage"]
    )
    terminated = state["Events"][-2]
    assert terminated["ExitCode"] == 3 and terminated["DisplayMessage"] == "Exit Code: 3"
    restarting = state["Events"][-4]
    assert restarting["RestartReason"] == "Restart within policy"
    assert 200_000_000 <= restarting["StartDelay"] <= 250_000_000
    logs = cluster.get(
        f"/v1/client/fs/logs/{alloc['ID']}", params={"task": "boom", "type": "stderr", "plain": "1"}
    ).text
    assert logs == "boom\nboom\n"


def test_batch_with_prestart_task_and_artifact(cluster: Cluster, tmp_path: Path) -> None:
    source = tmp_path / "greeting.txt"
    source.write_text("from an artifact\n")
    cluster.run(
        f"""
job "batchy" {{
  datacenters = ["dc1"]
  type        = "batch"
  group "g" {{
    task "init" {{
      lifecycle {{
        hook = "prestart"
      }}
      driver = "raw_exec"
      config {{
        command = "/bin/sh"
        args    = ["-c", "echo ready > $NOMAD_ALLOC_DIR/init.txt"]
      }}
    }}
    task "main" {{
      driver = "raw_exec"
      artifact {{
        source = "{source}"
      }}
      config {{
        command = "/bin/sh"
        args    = ["-c", "cat $NOMAD_ALLOC_DIR/init.txt local/greeting.txt"]
      }}
    }}
  }}
}}
"""
    )
    alloc = cluster.wait_alloc("batchy", "complete")
    assert alloc["TaskStates"]["init"]["State"] == "dead"
    assert not alloc["TaskStates"]["main"]["Failed"]
    assert "Downloading Artifacts" in events(alloc, "main")
    out = cluster.get(
        f"/v1/client/fs/logs/{alloc['ID']}", params={"task": "main", "type": "stdout", "plain": "1"}
    ).text
    assert out == "ready\nfrom an artifact\n"
    base = f"/v1/client/fs/{{}}/{alloc['ID']}"
    stat = cluster.get(base.format("stat"), params={"path": "main/local/greeting.txt"}).json()
    assert stat["Name"] == "greeting.txt" and stat["Size"] == 17 and not stat["IsDir"]
    assert stat["FileMode"] == "-rw-r--r--"
    part = cluster.get(
        base.format("readat"),
        params={"path": "main/local/greeting.txt", "offset": "5", "limit": "2"},
    )
    assert part.text == "an"


NGINX_REDIS = r"""
job "webcache" {
  datacenters = ["dc1"]
  group "web" {
    network {
      port "http" {}
      port "db" {}
    }
    task "nginx" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args = ["-c", <<EOT
mkdir -p local/html local/tmp
echo '<h1>nginx via raw_exec</h1>' > local/html/index.html
cat > local/nginx.conf <<CONF
daemon off;
user root;
pid $NOMAD_TASK_DIR/nginx.pid;
error_log stderr notice;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path $NOMAD_TASK_DIR/tmp/body;
  proxy_temp_path $NOMAD_TASK_DIR/tmp/proxy;
  fastcgi_temp_path $NOMAD_TASK_DIR/tmp/fastcgi;
  uwsgi_temp_path $NOMAD_TASK_DIR/tmp/uwsgi;
  scgi_temp_path $NOMAD_TASK_DIR/tmp/scgi;
  server {
    listen 127.0.0.1:$NOMAD_PORT_http;
    root $NOMAD_TASK_DIR/html;
  }
}
CONF
exec /usr/sbin/nginx -c $NOMAD_TASK_DIR/nginx.conf
EOT
        ]
      }
      service {
        name = "webcache-nginx"
        port = "http"
        check {
          type     = "http"
          path     = "/"
          interval = "1s"
          timeout  = "1s"
        }
      }
    }
    task "redis" {
      driver = "raw_exec"
      config {
        command = "/usr/bin/redis-server"
        args = [
          "--port", "${NOMAD_PORT_db}", "--bind", "127.0.0.1", "--save", "",
          "--dir", "${NOMAD_TASK_DIR}",
        ]
      }
      service {
        name = "webcache-redis"
        port = "db"
        check {
          type     = "tcp"
          interval = "1s"
          timeout  = "1s"
        }
      }
    }
  }
}
"""


def test_nginx_and_redis(cluster: Cluster) -> None:
    cluster.run(NGINX_REDIS)
    alloc = cluster.wait_alloc("webcache", "running")
    ports = {p["Label"]: p["Value"] for p in alloc["AllocatedResources"]["Shared"]["Ports"]}
    wait_for(lambda: cluster.passing("webcache-nginx"), what="nginx passing")
    wait_for(lambda: cluster.passing("webcache-redis"), what="redis passing")
    with socket.create_connection(("127.0.0.1", ports["http"]), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        assert b"nginx via raw_exec" in s.recv(4096)
    with socket.create_connection(("127.0.0.1", ports["db"]), timeout=5) as s:
        s.sendall(b"PING\r\n")
        assert s.recv(64) == b"+PONG\r\n"
    cluster.stop_job("webcache")
    cluster.wait_alloc("webcache", "complete")
    wait_for(lambda: not cluster.consul.catalog.service("webcache-redis")[1], what="dereg")


def test_killed_client_reattaches(cluster: Cluster) -> None:
    cluster.run(
        """
job "sleep" {
  datacenters = ["dc1"]
  group "g" {
    task "sleep" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo $$ > local/pid; echo tick; exec /bin/sleep 1000"]
      }
    }
  }
}
"""
    )
    alloc = cluster.wait_alloc("sleep", "running")
    pid_file = cluster.client.data_dir / "alloc" / alloc["ID"] / "sleep" / "local" / "pid"
    pid = int(wait_for(lambda: pid_file.exists() and pid_file.read_text().strip()))
    cluster.client.proc.kill()  # kill -9: no chance to stop anything
    assert pid_alive(pid)
    cluster.client.start()
    # The same task keeps running under the new client process, which answers for it.
    stats = wait_for(
        lambda: cluster.get(f"/v1/client/allocation/{alloc['ID']}/stats").ok, what="stats"
    )
    assert stats
    assert pid_alive(pid)
    again = cluster.alloc(alloc["ID"])
    assert again["ClientStatus"] == "running"
    assert events(again, "sleep").count("Started") == 1
    cluster.stop_job("sleep")
    cluster.wait_alloc("sleep", "complete")
    wait_for(lambda: not pid_alive(pid), what="the re-attached task stopped")


def test_signal_and_restart_endpoints(cluster: Cluster) -> None:
    cluster.run(
        """
job "trap" {
  datacenters = ["dc1"]
  group "g" {
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "trap 'echo got HUP' HUP; while true; do sleep 0.1; done"]
      }
    }
  }
}
"""
    )
    alloc = cluster.wait_alloc("trap", "running")
    url = f"{cluster.sched.url}/v1/client/allocation/{alloc['ID']}"
    requests.post(
        f"{url}/signal", json={"Task": "t", "Signal": "SIGHUP"}, timeout=10
    ).raise_for_status()
    logs = f"/v1/client/fs/logs/{alloc['ID']}"
    wait_for(
        lambda: (
            "got HUP"
            in cluster.get(logs, params={"task": "t", "type": "stdout", "plain": "1"}).text
        ),
        what="the signal reached the task",
    )
    requests.post(f"{url}/restart", json={"TaskName": "t"}, timeout=10).raise_for_status()
    restarted = wait_for(
        lambda: (
            (a := cluster.alloc(alloc["ID"]))["TaskStates"]["t"]["Restarts"] == 1
            and a["TaskStates"]["t"]["State"] == "running"
            and a
        ),
        what="restarted",
    )
    assert "Restart Signal" in events(restarted, "t")
    bad = requests.post(f"{url}/signal", json={"Task": "t", "Signal": "SIGNOPE"}, timeout=10)
    assert bad.status_code == 400
    cluster.stop_job("trap")
    cluster.wait_alloc("trap", "complete")


def test_unknown_allocation_is_404(cluster: Cluster) -> None:
    resp = requests.get(
        f"{cluster.client.url}/v1/client/fs/ls/00000000-0000-0000-0000-000000000000", timeout=5
    )
    assert resp.status_code == 404
    assert "Unknown allocation" in resp.text


def test_follow_logs_stream_frames(cluster: Cluster) -> None:
    cluster.run(
        """
job "ticker" {
  datacenters = ["dc1"]
  group "g" {
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.1; done"]
      }
    }
  }
}
"""
    )
    alloc = cluster.wait_alloc("ticker", "running")
    url = f"{cluster.sched.url}/v1/client/fs/logs/{alloc['ID']}"
    params = {"task": "t", "type": "stdout", "follow": "true"}
    seen = b""
    with requests.get(url, params=params, stream=True, timeout=10) as resp:
        decoder = json.JSONDecoder()
        buffer = ""
        for chunk in resp.iter_content(chunk_size=None):
            buffer += chunk.decode()
            while buffer:
                try:
                    frame, end = decoder.raw_decode(buffer)
                except ValueError:
                    break
                buffer = buffer[end:].lstrip()
                seen += base64.b64decode(frame.get("Data", ""))
            if seen.count(b"tick") >= 5:
                break
    assert seen.startswith(b"tick 1\ntick 2\n")
    cluster.stop_job("ticker")
    cluster.wait_alloc("ticker", "complete")


def test_prestart_failure_fails_the_allocation_without_starting_main(cluster: Cluster) -> None:
    cluster.run(
        """
job "badinit" {
  datacenters = ["dc1"]
  group "g" {
    restart {
      attempts = 0
      mode     = "fail"
    }
    reschedule {
      attempts  = 0
      unlimited = false
    }
    task "init" {
      lifecycle {
        hook = "prestart"
      }
      driver = "raw_exec"
      config {
        command = "/bin/false"
      }
    }
    task "main" {
      driver = "raw_exec"
      config {
        command = "/bin/sleep"
        args    = ["1000"]
      }
    }
    task "cleanup" {
      lifecycle {
        hook = "poststop"
      }
      driver = "raw_exec"
      config {
        command = "/bin/true"
      }
    }
  }
}
"""
    )
    alloc = cluster.wait_alloc("badinit", "failed")
    assert alloc["TaskStates"]["init"]["Failed"] is True
    # The failure can reach the server one update before the sibling's end (the client
    # batches its updates, as Nomad's does): main ends dead without ever starting.
    alloc = wait_for(
        lambda: (a := cluster.alloc(alloc["ID"]))["TaskStates"]["main"]["State"] == "dead" and a,
        what="main dead",
    )
    assert "Started" not in events(alloc, "main")


def test_leader_death_stops_its_sidecar(cluster: Cluster) -> None:
    cluster.run(
        """
job "led" {
  datacenters = ["dc1"]
  type        = "batch"
  group "g" {
    task "proxy" {
      lifecycle {
        hook    = "prestart"
        sidecar = true
      }
      driver = "raw_exec"
      config {
        command = "/bin/sleep"
        args    = ["1000"]
      }
    }
    task "main" {
      leader = true
      driver = "raw_exec"
      config {
        command = "/bin/sleep"
        args    = ["0.3"]
      }
    }
  }
}
"""
    )
    alloc = cluster.wait_alloc("led", "complete")
    assert events(alloc, "main")[-1] == "Terminated"
    assert events(alloc, "proxy")[-4:] == ["Leader Task Dead", "Killing", "Terminated", "Killed"]
    assert alloc["TaskStates"]["proxy"]["Failed"] is False


def test_host_stats(cluster: Cluster) -> None:
    stats = requests.get(f"{cluster.client.url}/v1/client/stats", timeout=10).json()
    assert stats["Memory"]["Total"] > 0
    assert stats["CPU"] and stats["CPU"][0]["CPU"] == "cpu0"
    assert stats["Uptime"] > 0
    assert stats["DiskStats"][0]["Size"] > 0

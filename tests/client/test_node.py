"""The node's life around its tasks: deployment health, exec isolation, log rotation, a
scheduler that lost its state, and a client stopped with SIGTERM leaving no orphans."""

from __future__ import annotations

import shutil

from tests.client.conftest import Cluster, events, pid_alive, wait_for


def test_deployment_becomes_healthy_through_checks(cluster: Cluster) -> None:
    cluster.run(
        """
job "dep" {
  datacenters = ["dc1"]
  update {
    min_healthy_time  = "1s"
    healthy_deadline  = "30s"
    progress_deadline = "1m"
  }
  group "g" {
    network {
      port "http" {}
    }
    service {
      name = "dep-web"
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
    )
    alloc = cluster.wait_alloc("dep", "running")
    healthy = wait_for(
        lambda: (cluster.alloc(alloc["ID"]).get("DeploymentStatus") or {}).get("Healthy"),
        30,
        "the allocation healthy",
    )
    assert healthy is True
    deployment = wait_for(
        lambda: (d := cluster.api.job.get_deployment("dep")) and d["Status"] == "successful" and d,
        30,
        "a successful deployment",
    )
    assert deployment["TaskGroups"]["g"]["HealthyAllocs"] == 1
    cluster.stop_job("dep")
    cluster.wait_alloc("dep", "complete")


def test_exec_driver_isolates_the_task(cluster: Cluster) -> None:
    cluster.run(
        """
job "isolated" {
  datacenters = ["dc1"]
  type        = "batch"
  group "g" {
    task "t" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo pid=$$; ls /; echo $NOMAD_TASK_DIR; echo hi > /local/out.txt"]
      }
    }
  }
}
"""
    )
    alloc = cluster.wait_alloc("isolated", "complete")
    out = cluster.get(
        f"/v1/client/fs/logs/{alloc['ID']}", params={"task": "t", "type": "stdout", "plain": "1"}
    ).text
    lines = out.split()
    assert int(lines[0][4:]) < 100  # its own PID namespace
    assert {"alloc", "local", "secrets", "bin", "usr"} <= set(lines)
    assert "/local" in lines
    assert "tmp" in lines and "pytest-of-root" not in out
    written = cluster.get(f"/v1/client/fs/cat/{alloc['ID']}", params={"path": "t/local/out.txt"})
    assert written.text == "hi\n"


def test_logs_rotate(cluster: Cluster) -> None:
    cluster.run(
        """
job "chatty" {
  datacenters = ["dc1"]
  type        = "batch"
  group "g" {
    task "t" {
      driver = "raw_exec"
      logs {
        max_files     = 2
        max_file_size = 1
      }
      config {
        command = "/bin/sh"
        args    = ["-c", "head -c 2621440 /dev/zero | tr '\\\\0' a; echo"]
      }
    }
  }
}
"""
    )
    alloc = cluster.wait_alloc("chatty", "complete")
    listing = cluster.get(f"/v1/client/fs/ls/{alloc['ID']}", params={"path": "alloc/logs"}).json()
    sizes = {f["Name"]: f["Size"] for f in listing if f["Name"].startswith("t.stdout")}
    assert sizes == {"t.stdout.1": 1024 * 1024, "t.stdout.2": 2621441 - 2 * 1024 * 1024}
    body = cluster.get(
        f"/v1/client/fs/logs/{alloc['ID']}", params={"task": "t", "type": "stdout", "plain": "1"}
    ).content
    assert len(body) == sum(sizes.values())


def test_templates_render_and_restart_on_change(cluster: Cluster) -> None:
    cluster.consul.kv.put("app/color", "blue")
    cluster.consul.agent.service.register("tmpl-db", address="10.0.0.9", port=5432)
    cluster.run(
        """
job "tmpl" {
  datacenters = ["dc1"]
  group "g" {
    task "t" {
      driver = "raw_exec"
      template {
        data        = <<EOT
color={{ key "app/color" }}
{{ range service "tmpl-db" }}db={{ .Address }}:{{ .Port }}{{ end }}
index={{ env "NOMAD_ALLOC_INDEX" }}
EOT
        destination = "local/app.conf"
        change_mode = "restart"
      }
      template {
        data        = "COLOR={{ key \\"app/color\\" | toUpper }}"
        destination = "secrets/app.env"
        env         = true
        change_mode = "noop"
      }
      config {
        command = "/bin/sh"
        args    = ["-c", "cat local/app.conf; echo env=$COLOR; exec sleep 1000"]
      }
    }
  }
}
"""
    )
    alloc = cluster.wait_alloc("tmpl", "running")
    logs = f"/v1/client/fs/logs/{alloc['ID']}"

    def stdout() -> str:
        return cluster.get(logs, params={"task": "t", "type": "stdout", "plain": "1"}).text

    first = wait_for(lambda: "env=" in stdout() and stdout(), what="the task printed")
    assert first == "color=blue\ndb=10.0.0.9:5432\nindex=0\nenv=BLUE\n"
    cluster.consul.kv.put("app/color", "green")
    wait_for(lambda: stdout().count("env=") == 2, what="a restart with the new data")
    assert stdout().endswith("color=green\ndb=10.0.0.9:5432\nindex=0\nenv=GREEN\n")
    state = wait_for(
        lambda: (st := cluster.alloc(alloc["ID"])["TaskStates"]["t"])["Restarts"] == 1 and st
    )
    restart = next(e for e in state["Events"] if e["Type"] == "Restart Signal")
    assert restart["RestartReason"] == "Template with change_mode restart re-rendered"
    cluster.stop_job("tmpl")
    cluster.wait_alloc("tmpl", "complete")


def test_check_restart_restarts_then_fails_the_task(cluster: Cluster) -> None:
    cluster.run(
        """
job "sick" {
  datacenters = ["dc1"]
  group "g" {
    restart {
      attempts = 1
      delay    = "100ms"
      interval = "5m"
      mode     = "fail"
    }
    reschedule {
      attempts  = 0
      unlimited = false
    }
    network {
      port "p" {}
    }
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/sleep"
        args    = ["1000"]
      }
      service {
        name = "sick"
        port = "p"
        check {
          type     = "tcp"
          interval = "1s"
          timeout  = "1s"
          check_restart {
            limit = 2
            grace = "1s"
          }
        }
      }
    }
  }
}
"""
    )
    alloc = cluster.wait_alloc("sick", "failed", timeout=30)
    state = alloc["TaskStates"]["t"]
    assert state["Restarts"] == 1
    reasons = [e["RestartReason"] for e in state["Events"] if e["Type"] == "Restart Signal"]
    assert reasons == ['healthcheck: check "service: \\"sick\\" check" unhealthy'] * 2
    assert events(alloc, "t")[-1] == "Not Restarting"


def test_script_checks_run_inside_the_task(cluster: Cluster) -> None:
    cluster.run(
        """
job "scripted" {
  datacenters = ["dc1"]
  group "g" {
    task "raw" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "sleep 1; touch local/ok; exec sleep 1000"]
      }
      service {
        name = "scripted-raw"
        check {
          type     = "script"
          command  = "/bin/sh"
          args     = ["-c", "test -f local/ok && echo fine: $NOMAD_TASK_NAME"]
          interval = "1s"
          timeout  = "2s"
        }
      }
    }
    task "jailed" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo $$ > /local/ns-pid; exec sleep 1000"]
      }
      service {
        name = "scripted-exec"
        check {
          type     = "script"
          command  = "/bin/sh"
          args     = ["-c", "echo pid1=$(cat /local/ns-pid) root=$(ls / | tr '\\\\n' ,)"]
          interval = "1s"
          timeout  = "2s"
        }
      }
    }
  }
}
"""
    )
    cluster.wait_alloc("scripted", "running")

    def check(service: str) -> dict[str, str]:
        _, checks = cluster.consul.health.checks(service)
        return checks[0] if checks else {}

    wait_for(lambda: check("scripted-raw").get("Status") == "warning", 10, "a warning first")
    raw = wait_for(lambda: (c := check("scripted-raw")).get("Status") == "passing" and c, 10)
    assert raw["Output"] == "fine: raw\n"
    # Once the task has written its PID (a check may run before it has).
    jailed = wait_for(
        lambda: (
            (c := check("scripted-exec")).get("Status") == "passing"
            and c["Output"].startswith("pid1=")
            and c
        ),
        10,
    )
    assert int(jailed["Output"].split()[0][5:]) < 100  # a PID of the task's namespace
    assert "alloc,bin," in jailed["Output"]
    cluster.stop_job("scripted")
    cluster.wait_alloc("scripted", "complete")


def test_reregisters_with_a_scheduler_that_lost_its_state(cluster: Cluster) -> None:
    node_id = wait_for(lambda: cluster.api.nodes.get_nodes())[0]["ID"]
    cluster.sched.proc.kill()
    shutil.rmtree(cluster.sched.data_dir)
    cluster.sched.start()
    nodes = wait_for(lambda: cluster.api.nodes.get_nodes(), 20, "the node registered again")
    assert nodes[0]["ID"] == node_id
    assert nodes[0]["Status"] == "ready"
    # and it runs work from the new scheduler
    cluster.run(
        """
job "after" {
  datacenters = ["dc1"]
  type        = "batch"
  group "g" {
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/true"
      }
    }
  }
}
"""
    )
    cluster.wait_alloc("after", "complete")


def test_sigterm_stops_every_task_and_service(cluster: Cluster) -> None:
    cluster.run(
        """
job "orphan-check" {
  datacenters = ["dc1"]
  group "g" {
    network {
      port "p" {}
    }
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo $$ > local/pid; echo started; exec /bin/sleep 1000"]
      }
      service {
        name = "orphan-check"
        port = "p"
      }
    }
  }
}
"""
    )
    alloc = cluster.wait_alloc("orphan-check", "running")
    pid_file = cluster.client.data_dir / "alloc" / alloc["ID"] / "t" / "local" / "pid"
    pid = int(wait_for(lambda: pid_file.exists() and pid_file.read_text().strip()))
    wait_for(lambda: cluster.consul.catalog.service("orphan-check")[1], what="registered")
    assert cluster.client.proc.stop() == 0
    assert not pid_alive(pid)
    assert not cluster.consul.catalog.service("orphan-check")[1]
    assert not cluster.consul.catalog.service("nomad-1-client")[1]
    # As with a Nomad client that stops, the cluster still counts the allocation running...
    assert cluster.alloc(alloc["ID"])["ClientStatus"] == "running"

    # ...and the client runs it again when it comes back.
    pid_file.unlink()
    cluster.client.start()
    new_pid = int(wait_for(lambda: pid_file.exists() and pid_file.read_text().strip(), 20))
    assert new_pid != pid and pid_alive(new_pid)
    wait_for(lambda: cluster.consul.catalog.service("orphan-check")[1], what="registered again")
    logs = f"/v1/client/fs/logs/{alloc['ID']}"
    params = {"task": "t", "type": "stdout", "plain": "1"}
    wait_for(lambda: cluster.get(logs, params=params).text == "started\nstarted\n")
    cluster.stop_job("orphan-check")
    cluster.wait_alloc("orphan-check", "complete")
    assert not pid_alive(new_pid)

job "checked" {
  datacenters = ["dc1"]

  group "svc" {
    network {
      mode = "host"
      port "http" {}
      port "grpc" {}
    }

    service {
      name        = "checked-http"
      port        = "http"
      tags        = ["v2", "urlprefix-/checked strip=/checked"]
      canary_tags = ["canary"]
      meta {
        version = "2"
      }

      check {
        name     = "alive"
        type     = "http"
        path     = "/health?full=1"
        method   = "POST"
        body     = "{}"
        interval = "15s"
        timeout  = "3s"
        header {
          Authorization = ["Bearer dev"]
          Accept        = ["application/json", "text/plain"]
        }
        check_restart {
          limit           = 3
          grace           = "90s"
          ignore_warnings = true
        }
      }

      check {
        name         = "grpc"
        type         = "grpc"
        port         = "grpc"
        interval     = "10s"
        timeout      = "2s"
        grpc_use_tls = true
        grpc_service = "checked.Health"
      }

      check {
        name                     = "script"
        type                     = "script"
        task                     = "server"
        command                  = "/bin/sh"
        args                     = ["-c", "test -f /tmp/ready"]
        interval                 = "30s"
        timeout                  = "5s"
        initial_status           = "warning"
        success_before_passing   = 2
        failures_before_critical = 3
      }
    }

    task "server" {
      driver = "exec"
      config {
        command = "local/server"
      }
    }
  }
}

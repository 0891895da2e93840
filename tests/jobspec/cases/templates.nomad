job "templated" {
  datacenters = ["dc1"]

  group "app" {
    network {
      port "http" {}
    }

    task "app" {
      driver = "exec"

      config {
        command = "local/app"
        args    = ["-config", "local/app.hcl"]
      }

      template {
        destination   = "local/app.hcl"
        change_mode   = "signal"
        change_signal = "SIGHUP"
        splay         = "10s"
        perms         = "0600"
        data          = <<EOF
listen = "0.0.0.0:{{ env "NOMAD_PORT_http" }}"
alloc  = "{{ env "NOMAD_ALLOC_ID" }}"
EOF
      }

      template {
        destination = "secrets/app.env"
        env         = true
        data        = "LOG_LEVEL=info\nREGION={{ env \"NOMAD_REGION\" }}\n"
        wait {
          min = "2s"
          max = "10s"
        }
      }

      template {
        source          = "local/motd.tpl"
        destination     = "local/motd"
        change_mode     = "noop"
        left_delimiter  = "[["
        right_delimiter = "]]"
      }
    }
  }
}

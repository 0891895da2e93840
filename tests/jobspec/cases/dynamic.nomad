# dynamic blocks generate groups, ports and driver config from data.
variable "apps" {
  type = map(number)
  default = {
    web = 8080
    api = 9090
  }
}

job "fleet" {
  datacenters = ["dc1"]

  dynamic "group" {
    for_each = var.apps
    iterator = app
    labels   = [app.key]

    content {
      network {
        port "http" {
          to = app.value
        }
      }

      task "run" {
        driver = "docker"

        config {
          image = "example/${app.key}:1"
          ports = ["http"]

          dynamic "mount" {
            for_each = ["cache", "data"]
            content {
              type   = "volume"
              source = "${app.key}-${mount.value}"
              target = "/${mount.value}"
            }
          }
        }

        env {
          PORT = "%{ if app.value > 9000 }high%{ else }low%{ endif }"
        }
      }
    }
  }
}

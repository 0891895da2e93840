job "with-sidecars" {
  datacenters = ["dc1"]

  group "app" {
    task "migrate" {
      driver = "docker"
      lifecycle {
        hook = "prestart"
      }
      config {
        image   = "example/app:1.0"
        command = "migrate"
      }
    }

    task "log-shipper" {
      driver = "docker"
      lifecycle {
        hook    = "poststart"
        sidecar = true
      }
      config {
        image = "fluent/fluent-bit:2.2"
      }
    }

    task "app" {
      driver = "docker"
      leader = true
      config {
        image = "example/app:1.0"
      }
      shutdown_delay = "5s"
    }

    task "notify" {
      driver = "raw_exec"
      lifecycle {
        hook = "poststop"
      }
      config {
        command = "/usr/bin/logger"
        args    = ["app stopped"]
      }
    }
  }
}

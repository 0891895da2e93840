# The seed's redis job for machines without Docker: Debian's redis-server run by
# raw_exec on a dynamic port. Run it with JOB_POSTFIX=redis-raw.
job "job-redis-raw" {
  datacenters = ["dc1"]

  group "cache" {
    network {
      port "db" {}
    }

    task "redis" {
      driver = "raw_exec"

      config {
        command = "/usr/bin/redis-server"
        args = [
          "--port", "${NOMAD_PORT_db}",
          "--bind", "0.0.0.0",
          "--dir", "${NOMAD_TASK_DIR}",
          "--save", "",
          "--appendonly", "no",
          "--protected-mode", "no",
        ]
      }

      resources {
        cpu    = 500 # 500 MHz
        memory = 256 # 256MB
      }

      service {
        name = "weave-redis"
        port = "db"

        check {
          name     = "host-redis-check"
          type     = "tcp"
          port     = "db"
          interval = "10s"
          timeout  = "2s"
        }
      }
    }
  }
}

job "db-backup" {
  datacenters = ["dc1"]
  type        = "batch"

  periodic {
    cron             = "0 3 * * *"
    prohibit_overlap = true
    time_zone        = "Europe/Berlin"
  }

  group "backup" {
    task "dump" {
      driver = "raw_exec"

      config {
        command = "/usr/bin/env"
        args    = ["sh", "-c", "pg_dump app > ${NOMAD_TASK_DIR}/app.sql"]
      }

      env {
        PGHOST = "db.service.consul"
        PGUSER = "backup"
      }
    }
  }
}

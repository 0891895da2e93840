# A periodic batch job: every five minutes, record the date in the task's log.
# Run it with JOB_POSTFIX=cron.
job "job-cron" {
  datacenters = ["dc1"]
  type        = "batch"

  periodic {
    crons            = ["*/5 * * * *"]
    prohibit_overlap = true
  }

  group "tick" {
    task "date" {
      driver = "raw_exec"

      config {
        command = "/bin/date"
        args    = ["-u", "+tick %Y-%m-%dT%H:%M:%SZ"]
      }

      resources {
        cpu    = 20
        memory = 16
      }
    }
  }
}

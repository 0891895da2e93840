# A batch job that runs to completion on any client with raw_exec: it prints where it
# ran and exits. Run it with JOB_POSTFIX=batch.
job "job-batch" {
  datacenters = ["dc1"]
  type        = "batch"

  group "hello" {
    count = 2

    restart {
      attempts = 0
      mode     = "fail"
    }

    task "hello" {
      driver = "raw_exec"

      config {
        command = "/bin/sh"
        args    = ["-c", "echo hello from allocation $NOMAD_ALLOC_INDEX of $NOMAD_JOB_NAME on $(hostname)"]
      }

      resources {
        cpu    = 20
        memory = 16
      }
    }
  }
}

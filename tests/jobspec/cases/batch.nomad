# A nightly-style batch job: fetch an archive, run a script, keep logs small.
job "report-batch" {
  datacenters = ["dc1", "dc2"]
  type        = "batch"
  priority    = 70
  namespace   = "reports"

  group "report" {
    count = 3

    restart {
      attempts = 1
      interval = "10m"
      delay    = "30s"
      mode     = "fail"
    }

    reschedule {
      attempts       = 2
      interval       = "2h"
      delay          = "1m"
      delay_function = "constant"
      unlimited      = false
    }

    task "build" {
      driver = "exec"
      user   = "nobody"

      artifact {
        source      = "https://example.com/tools/report-1.2.tar.gz"
        destination = "local/tools"
        options {
          checksum = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
        }
      }

      config {
        command = "local/tools/report.sh"
        args    = ["--since", "24h", "--out", "${NOMAD_ALLOC_DIR}/data/report.csv"]
      }

      logs {
        max_files     = 3
        max_file_size = 5
      }

      kill_timeout = "20s"
      kill_signal  = "SIGINT"

      resources {
        cpu    = 1000
        memory = 512
      }
    }
  }
}

job "secretive" {
  datacenters = ["dc1"]

  vault {
    policies = ["read-secrets"]
  }

  group "g" {
    consul {
      namespace = "team-a"
    }

    task "uses-job-vault" {
      driver = "exec"
      config {
        command = "local/app"
      }
    }

    task "own-vault" {
      driver = "exec"
      vault {
        policies      = ["other"]
        change_mode   = "signal"
        change_signal = "sigusr1"
      }
      config {
        command = "local/app"
      }
    }
  }
}

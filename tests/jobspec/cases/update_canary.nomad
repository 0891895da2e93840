job "canaried" {
  datacenters = ["dc1"]

  update {
    max_parallel      = 2
    min_healthy_time  = "30s"
    healthy_deadline  = "5m"
    progress_deadline = "15m"
    auto_revert       = true
    canary            = 1
    auto_promote      = true
    stagger           = "1m"
  }

  migrate {
    max_parallel     = 2
    health_check     = "task_states"
    min_healthy_time = "15s"
    healthy_deadline = "6m"
  }

  group "a" {
    count = 5
    task "a" {
      driver = "exec"
      config {
        command = "/bin/sleep"
        args    = ["3600"]
      }
    }
  }

  group "b" {
    update {
      canary       = 0
      max_parallel = 1
    }
    task "b" {
      driver = "exec"
      config {
        command = "/bin/sleep"
        args    = ["3600"]
      }
    }
  }
}

# Group scaling for the autoscaler and a multiregion deployment (api.ScalingPolicy,
# api.Multiregion).
job "web" {
  datacenters = ["dc1"]

  multiregion {
    strategy {
      max_parallel = 1
      on_failure   = "fail_all"
    }
    region "west" {
      count       = 2
      datacenters = ["west-1"]
      meta {
        tier = "primary"
      }
    }
    region "east" {
      datacenters = ["east-1"]
    }
  }

  group "web" {
    count = 2

    scaling {
      min     = 1
      max     = 10
      enabled = true
      policy {
        cooldown            = "1m"
        evaluation_interval = "30s"
        check "cpu" {
          source = "prometheus"
          query  = "avg(cpu)"
          strategy "target-value" {
            target = 70
          }
        }
      }
    }

    task "web" {
      driver = "exec"
      config {
        command = "/bin/web"
      }
    }
  }
}

# A task that does nothing for a long time: the smallest job that runs on any client
# with raw_exec enabled.
job "job-sleep" {
  datacenters = ["dc1"]
  type = "service"

  group "sleep" {
    count = 1

    task "sleep" {
      driver = "raw_exec"
      config {
        command = "/bin/sleep"
        args    = ["1000"]
      }
      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}

job "apt-clean" {
  type = "sysbatch"

  group "clean" {
    task "clean" {
      driver = "raw_exec"
      config {
        command = "/usr/bin/apt-get"
        args    = ["clean"]
      }
    }
  }
}

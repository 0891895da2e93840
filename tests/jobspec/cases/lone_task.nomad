# Tasks may sit directly in the job: each becomes a group of its own name.
job "lone" {
  task "solo" {
    driver = "raw_exec"
    config {
      command = "/bin/sleep"
      args    = ["60"]
    }
  }

  group "grouped" {
    task "inside" {
      driver = "raw_exec"
      config {
        command = "/bin/true"
      }
    }
  }
}

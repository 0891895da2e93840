job "x" {
  datacenters = "dc1"
  priority = true
  group "g" {
    count = var.n
    task "t" {
      driver = "exec"
      env = ["a"]
      config {
        x = upper(1, 2)
        y = nosuch(1)
      }
    }
  }
}

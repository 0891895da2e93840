locals {
  base    = "registry.example.com"
  version = "1.9.2"
  parts   = split(".", local.version)
  ports   = { http = 8080, metrics = 9102 }
  config  = jsonencode({ name = "svc", ports = values(local.ports) })
}

job "funcs" {
  datacenters = ["dc1"]

  meta {
    major     = local.parts[0]
    image     = format("%s/app:%s", local.base, local.version)
    encoded   = base64encode("hello")
    decoded   = base64decode("d29ybGQ=")
    replaced  = replace("a-b-c", "-", "_")
    regex     = replace("v1.2.3", "/v(\\d+).*/", "major$1")
    trimmed   = trimspace("  padded  ")
    looked_up = lookup(local.ports, "http", 0)
    missing   = lookup(local.ports, "grpc", "none")
    joined    = join(" ", ["a", "b"], ["c"])
    length    = length(local.parts)
    lower     = lower("MiXeD")
    config    = local.config
    decoded_n = jsondecode("{\"n\": 3}").n
    math      = 2 * 3 + 4 / 2 - 1
    compare   = 3 > 2 && !false
  }

  group "g" {
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/echo"
        args    = [for k, v in local.ports : "${k}=${v}"]
      }
    }
  }
}

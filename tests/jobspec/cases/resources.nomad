job "gpu-train" {
  datacenters = ["dc1"]
  type        = "batch"

  group "train" {
    task "train" {
      driver = "docker"

      config {
        image = "example/trainer:3"
      }

      resources {
        cores      = 4
        memory     = 8192
        memory_max = 12288

        device "nvidia/gpu" {
          count = 2
          constraint {
            attribute = "${device.attr.memory}"
            operator  = ">="
            value     = "16 GiB"
          }
          affinity {
            attribute = "${device.model}"
            value     = "Tesla V100"
            weight    = 50
          }
        }
      }
    }
  }
}

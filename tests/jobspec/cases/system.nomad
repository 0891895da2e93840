job "node-exporter" {
  datacenters = ["*"]
  type        = "system"
  node_pool   = "all"

  group "exporter" {
    network {
      port "metrics" {
        static = 9100
      }
    }

    service {
      name     = "node-exporter"
      port     = "metrics"
      provider = "nomad"
      check {
        type     = "http"
        path     = "/metrics"
        interval = "30s"
        timeout  = "5s"
      }
    }

    task "exporter" {
      driver = "raw_exec"
      config {
        command = "/usr/bin/prometheus-node-exporter"
        args    = ["--web.listen-address=:${NOMAD_PORT_metrics}"]
      }
      resources {
        cpu    = 50
        memory = 64
      }
    }
  }
}

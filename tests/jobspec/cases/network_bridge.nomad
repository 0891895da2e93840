job "bridged" {
  datacenters = ["dc1"]

  group "proxy" {
    network {
      mode     = "bridge"
      hostname = "proxy-${NOMAD_ALLOC_INDEX}"
      port "http" {
        static       = 8080
        to           = 80
        host_network = "public"
      }
      port "admin" {
        to = 9901
      }
      dns {
        servers  = ["10.0.0.2", "10.0.0.3"]
        searches = ["service.consul"]
        options  = ["ndots:2"]
      }
    }

    service {
      name         = "proxy"
      port         = "http"
      address_mode = "alloc"
    }

    task "envoy" {
      driver = "docker"
      config {
        image = "envoyproxy/envoy:v1.29"
        ports = ["http", "admin"]
      }
    }
  }
}

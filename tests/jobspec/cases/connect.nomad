# Consul service mesh: a sidecar service with upstreams and expose paths, a sidecar task,
# and ingress, terminating and mesh gateways (api.ConsulConnect and its structs).
job "countdash" {
  datacenters = ["dc1"]

  group "api" {
    network {
      mode = "bridge"
      port "expose" {
        to = -1
      }
    }

    service {
      name = "count-api"
      port = "9001"

      connect {
        sidecar_service {
          tags = ["mesh"]
          proxy {
            local_service_port = 9001
            upstreams {
              destination_name = "count-db"
              local_bind_port  = 5432
              datacenter       = "dc2"
              mesh_gateway {
                mode = "local"
              }
              config {
                connect_timeout_ms = 500
              }
            }
            expose {
              path {
                path            = "/health"
                protocol        = "http"
                local_path_port = 9001
                listener_port   = "expose"
              }
            }
            config {
              bind_address = "0.0.0.0"
            }
          }
        }
        sidecar_task {
          driver       = "docker"
          kill_timeout = "10s"
          config {
            image = "envoyproxy/envoy:v1.27"
          }
          resources {
            cpu    = 200
            memory = 96
          }
        }
      }
    }

    task "api" {
      driver = "docker"
      config {
        image = "hashicorpdev/counter-api:v3"
      }
    }
  }

  group "gateways" {
    network {
      mode = "bridge"
      port "inbound" {
        static = 8080
        to     = 8080
      }
    }

    service {
      name = "ingress-gw"
      port = "8080"
      connect {
        gateway {
          proxy {
            connect_timeout = "500ms"
            envoy_gateway_bind_addresses "web" {
              address = "0.0.0.0"
              port    = 8080
            }
          }
          ingress {
            tls {
              enabled = true
            }
            listener {
              port = 8080
              service {
                name  = "count-api"
                hosts = ["count.example.com"]
              }
            }
          }
        }
      }
    }

    service {
      name = "terminating-gw"
      connect {
        gateway {
          terminating {
            service {
              name    = "legacy-db"
              ca_file = "/etc/ssl/ca.pem"
            }
          }
        }
      }
    }

    service {
      name = "mesh-gw"
      connect {
        gateway {
          mesh {}
        }
      }
    }

    task "noop" {
      driver = "docker"
      config {
        image = "busybox"
      }
    }
  }
}

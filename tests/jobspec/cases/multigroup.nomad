# A shop: web front ends, an API tier and a cache, spread across racks.
job "shop" {
  datacenters = ["eu-west-1a", "eu-west-1b"]
  type        = "service"

  spread {
    attribute = "${node.datacenter}"
    weight    = 100
    target "eu-west-1a" {
      percent = 50
    }
    target "eu-west-1b" {
      percent = 50
    }
  }

  group "web" {
    count = 4

    affinity {
      attribute = "${meta.rack}"
      value     = "r1"
      weight    = 50
    }

    network {
      port "http" {
        to = 8080
      }
    }

    service {
      name = "shop-web"
      port = "http"
      tags = ["urlprefix-shop.example.com/"]
      check {
        type     = "http"
        path     = "/healthz"
        interval = "5s"
        timeout  = "1s"
      }
    }

    task "web" {
      driver = "docker"
      config {
        image = "example/shop-web:2.3.1"
        ports = ["http"]
      }
      env {
        API_ADDR = "http://${NOMAD_UPSTREAM_ADDR_api}"
      }
    }
  }

  group "api" {
    count = 2

    network {
      port "api" {}
    }

    service {
      name = "shop-api"
      port = "api"
      check {
        type     = "tcp"
        interval = "10s"
        timeout  = "2s"
      }
    }

    task "api" {
      driver = "docker"
      config {
        image = "example/shop-api:2.3.1"
        ports = ["api"]
      }
      resources {
        cpu    = 300
        memory = 256
      }
    }
  }

  group "cache" {
    network {
      port "redis" {
        static = 6379
      }
    }

    task "redis" {
      driver = "docker"
      config {
        image = "redis:7"
        ports = ["redis"]
      }
    }
  }
}

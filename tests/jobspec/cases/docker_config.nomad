# Driver config is free-form: nested blocks become lists of objects, as Nomad decodes them.
job "docker-config" {
  datacenters = ["dc1"]

  group "g" {
    network {
      port "http" {
        to = 80
      }
    }

    task "web" {
      driver = "docker"

      config {
        image        = "nginx:1.25"
        ports        = ["http"]
        force_pull   = true
        network_mode = "bridge"
        labels = {
          "com.example.team" = "web"
        }
        logging {
          type = "json-file"
          config {
            max-size = "10m"
          }
        }
        mount {
          type   = "bind"
          source = "local/site"
          target = "/usr/share/nginx/html"
        }
        ulimit {
          nofile = "1024:2048"
        }
      }
    }
  }
}

job "job-nginx" {
  group "group-webs" {
    network {
      port "http" {
        static = 70000
      }
    }
    service {
      name = "service-nginx"
      port = "htp"
      check {
        type    = "tcp"
        timeout = "2s"
      }
    }
    task "web" {
      config {
        image = "nginx"
      }
    }
    task "web" {
      driver = "docker"
    }
  }
}

job "job-nginx" {
  datacenters = ["dc1"]
  tpye = "service"
  group "group-webs" {
    count = "three"
    netwrok {
      port "http" {
        static = 80
      }
    }
    task "web" {
      driver = "docker"
      kill_timeout = "5 seconds"
      config {
        image = "nginx"
      }
      resources {
        cpu = 500
        memroy = 128
      }
    }
  }
}

variable "upstreams" {
  type    = list(string)
  default = ["10.0.0.1:80", "10.0.0.2:80"]
}

variable "tls" {
  type    = bool
  default = false
}

job "lb" {
  group "lb" {
    network {
      port "http" {}
    }

    task "haproxy" {
      driver = "raw_exec"

      config {
        command = "/usr/sbin/haproxy"
        args    = ["-f", "local/haproxy.cfg"]
      }

      template {
        destination = "local/haproxy.cfg"
        data        = <<-EOT
          frontend web
            bind *:{{ env "NOMAD_PORT_http" }}%{ if var.tls } ssl crt /etc/ssl/site.pem%{ endif }
            default_backend app
          backend app
          %{~ for i, addr in var.upstreams }
            server s${i} ${addr} check
          %{~ endfor }
        EOT
      }
    }
  }
}

# The seed's nginx job for machines without Docker: Debian's nginx run by raw_exec on a
# dynamic port, its configuration and welcome page rendered by the client's templates.
# Run it with JOB_POSTFIX=nginx-raw.
job "job-nginx-raw" {
  datacenters = ["dc1"]
  type        = "service"

  group "group-webs" {
    count = 1

    network {
      port "http" {}
    }

    service {
      name = "service-nginx"
      tags = ["nginx-tag", "urlprefix-/"]
      port = "http"

      check {
        name     = "service group-webs-nginx check"
        type     = "http"
        path     = "/"
        interval = "10s"
        timeout  = "2s"
      }
    }

    task "task-raw-nginx" {
      driver = "raw_exec"

      config {
        command = "/usr/sbin/nginx"
        # -e: errors to stderr from the start, before nginx.conf is read (nginx >= 1.19.5).
        args = [
          "-p", "${NOMAD_TASK_DIR}",
          "-c", "${NOMAD_TASK_DIR}/nginx.conf",
          "-e", "stderr",
          "-g", "daemon off;",
        ]
      }

      # Everything nginx writes stays inside the task directory. "user root" keeps the
      # workers under the task's own user when the client runs as root (nginx would drop
      # them to nobody, who cannot read the allocation directory); run as another user,
      # nginx ignores the line with a warning.
      template {
        destination = "local/nginx.conf"
        change_mode = "restart"
        data        = <<-EOF
          worker_processes 1;
          user root;
          pid {{ env "NOMAD_TASK_DIR" }}/nginx.pid;
          error_log stderr;

          events {
            worker_connections 256;
          }

          http {
            access_log /dev/stdout;
            client_body_temp_path {{ env "NOMAD_TASK_DIR" }}/client_body;
            proxy_temp_path       {{ env "NOMAD_TASK_DIR" }}/proxy;
            fastcgi_temp_path     {{ env "NOMAD_TASK_DIR" }}/fastcgi;
            uwsgi_temp_path       {{ env "NOMAD_TASK_DIR" }}/uwsgi;
            scgi_temp_path        {{ env "NOMAD_TASK_DIR" }}/scgi;
            types {
              text/html html;
              text/css  css;
            }
            default_type application/octet-stream;

            server {
              listen {{ env "NOMAD_PORT_http" }};
              root   {{ env "NOMAD_TASK_DIR" }}/www;
              index  index.html;
            }
          }
        EOF
      }

      template {
        destination = "local/www/index.html"
        change_mode = "noop"
        data        = <<-EOF
          <!DOCTYPE html>
          <html>
          <head><title>Welcome to yurt</title></head>
          <body>
          <h1>Welcome to yurt</h1>
          <p>nginx from job {{ env "NOMAD_JOB_NAME" }}, allocation {{ env "NOMAD_ALLOC_ID" }},
          listening on port {{ env "NOMAD_PORT_http" }}.</p>
          </body>
          </html>
        EOF
      }

      resources {
        cpu    = 100 # MHz
        memory = 64  # MB
      }
    }
  }
}

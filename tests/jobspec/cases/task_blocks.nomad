# A task's csi_plugin, workload identities, actions, vertical scaling policies, schedule
# and secrets (api.TaskCSIPluginConfig, api.WorkloadIdentity, api.Action,
# api.ScalingPolicy, api.TaskSchedule, api.Secret).
job "plugin" {
  datacenters = ["dc1"]
  type        = "system"

  group "nodes" {
    task "plugin" {
      driver = "docker"
      config {
        image = "registry.k8s.io/sig-storage/hostpathplugin:v1.9.0"
      }

      csi_plugin {
        id             = "hostpath"
        type           = "monolith"
        health_timeout = "1m"
      }

      identity {
        env  = true
        file = true
      }

      identity {
        name        = "vault_default"
        aud         = ["vault.io"]
        change_mode = "restart"
        ttl         = "1h"
      }

      action "status" {
        command = "/bin/sh"
        args    = ["-c", "ls /csi"]
      }

      scaling "cpu" {
        enabled = true
        max     = 500
        policy {
          cooldown = "24h"
        }
      }

      scaling "mem" {
        max = 1024
      }

      schedule {
        cron {
          start    = "0 8 * * mon-fri"
          end      = "0 18"
          timezone = "Europe/Berlin"
        }
      }

      secret "db" {
        provider = "vault"
        path     = "secret/data/db"
        env {
          DB_PASSWORD = "password"
        }
      }
    }
  }
}

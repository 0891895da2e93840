# Blocks of Nomad 1.8 and 1.9: a group's disconnect strategy, a service's identity and
# weights, and the job's ui block (api.DisconnectStrategy, api.WorkloadIdentity,
# api.ServiceWeights, api.JobUIConfig).
job "docs" {
  datacenters = ["dc1"]

  ui {
    description = "The documentation site"
    link {
      label = "Runbook"
      url   = "https://example.com/runbook"
    }
  }

  group "site" {
    disconnect {
      lost_after = "6h"
      replace    = false
    }

    network {
      port "http" {}
    }

    service {
      name     = "docs"
      port     = "http"
      provider = "consul"
      identity {
        aud = ["consul.io"]
        ttl = "1h"
      }
      weights {
        passing = 10
      }
    }

    task "site" {
      driver = "exec"
      config {
        command = "/bin/site"
      }
    }
  }
}

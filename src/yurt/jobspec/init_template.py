"""The job file `yurt job init` writes: the blocks and values of the one `nomad job init`
writes in Nomad 1.9 (a Redis cache in Docker: update, migrate and ui blocks, a mapped port,
a `provider = "nomad"` service, restart, ephemeral_disk, identity), with yurt's own short
comments in the full form and none in `-short`'s."""

from __future__ import annotations

DEFAULT_FILE = "example.nomad.hcl"

SHORT = """job "example" {
  datacenters = ["*"]
  type        = "service"

  update {
    max_parallel      = 1
    min_healthy_time  = "10s"
    healthy_deadline  = "3m"
    progress_deadline = "10m"
    auto_revert       = false
    canary            = 0
  }

  migrate {
    max_parallel     = 1
    health_check     = "checks"
    min_healthy_time = "10s"
    healthy_deadline = "5m"
  }

  ui {
    description = "Nomad **Example** Job"
    link {
      label = "Learn more about Nomad"
      url   = "https://developer.hashicorp.com/nomad"
    }
  }

  group "cache" {
    count = 1

    network {
      port "db" {
        to = 6379
      }
    }

    service {
      name     = "redis-cache"
      tags     = ["global", "cache"]
      port     = "db"
      provider = "nomad"
    }

    restart {
      attempts = 2
      interval = "30m"
      delay    = "15s"
      mode     = "fail"
    }

    ephemeral_disk {
      size = 300
    }

    task "redis" {
      driver = "docker"

      config {
        image          = "redis:7"
        ports          = ["db"]
        auth_soft_fail = true
      }

      identity {
        env  = true
        file = true
      }

      resources {
        cpu    = 500
        memory = 256
      }
    }
  }
}
"""

# The full form: the same job, each block introduced by one line of what it is for.
_COMMENTS = {
    "  update {": "  # How a new version of a group replaces running allocations.",
    "  migrate {": "  # How allocations move off a draining node.",
    "  ui {": "  # What the web UI shows on the job's page.",
    "    network {": "    # Ports: a dynamic host port mapped to the container's 6379.",
    "    service {": "    # Registered in Nomad's own service catalog (`nomad service list`).",
    "    restart {": "    # Restarts in place before the allocation is failed.",
    "    ephemeral_disk {": "    # Disk shared by the group's tasks, in MB.",
    "      identity {": "      # Its workload identity, in NOMAD_TOKEN and secrets/nomad_token.",
    "      resources {": "      # CPU in MHz, memory in MB.",
}


def _full() -> str:
    out = [
        "# An example job: one group running Redis in Docker. `yurt job run` submits it;\n",
        "# the job specification is Nomad's (https://developer.hashicorp.com/nomad/docs/job-specification).\n",
    ]
    for line in SHORT.splitlines(keepends=True):
        comment = _COMMENTS.get(line.rstrip("\n"))
        if comment:
            out.append(comment + "\n")
        out.append(line)
    return "".join(out)


FULL = _full()

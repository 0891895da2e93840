job "postgres" {
  datacenters = ["dc1"]

  group "db" {
    ephemeral_disk {
      sticky  = true
      migrate = true
      size    = 1024
    }

    volume "data" {
      type      = "host"
      source    = "pgdata"
      read_only = false
    }

    volume "shared" {
      type            = "csi"
      source          = "nfs-shared"
      access_mode     = "multi-node-multi-writer"
      attachment_mode = "file-system"
      per_alloc       = true
      mount_options {
        fs_type     = "nfs"
        mount_flags = ["noatime"]
      }
    }

    task "postgres" {
      driver = "docker"

      volume_mount {
        volume      = "data"
        destination = "/var/lib/postgresql/data"
      }

      volume_mount {
        volume      = "shared"
        destination = "/shared"
        read_only   = true
      }

      config {
        image = "postgres:16"
      }

      resources {
        cpu        = 1000
        memory     = 1024
        memory_max = 2048
      }
    }
  }
}

job "picky" {
  datacenters = ["dc1"]

  constraint {
    attribute = "${attr.kernel.name}"
    value     = "linux"
  }

  constraint {
    attribute = "${attr.nomad.version}"
    version   = ">= 1.6.0"
  }

  group "g" {
    count = 3

    constraint {
      operator = "distinct_hosts"
      value    = "true"
    }

    constraint {
      distinct_property = "${meta.rack}"
    }

    constraint {
      attribute = "${node.class}"
      regexp    = "^(web|edge)-"
    }

    task "t" {
      driver = "raw_exec"

      constraint {
        attribute    = "${attr.os.signals}"
        set_contains = "SIGHUP,SIGTERM"
      }

      constraint {
        attribute = "${attr.unique.hostname}"
        operator  = "!="
        value     = "bad-host"
      }

      constraint {
        attribute_is_set = "${attr.driver.raw_exec}"
      }

      config {
        command = "/bin/true"
      }
    }
  }
}

# The agent config that `make up` uses: the seed's server.hcl, pointed at this machine.
# One `yurt up` process plays all four agents of the seed's docker-compose file.
datacenter = "dc1"
data_dir   = ".yurt"
bind_addr  = "127.0.0.1"

consul {
  address             = "127.0.0.1:8500"
  # the names the agents get in the catalog
  server_service_name = "nomad-1-server"
  client_service_name = "nomad-1-client"
  auto_advertise      = true
  server_auto_join    = true
  client_auto_join    = true
}

server {
  enabled          = true
  bootstrap_expect = 1
}

# Tasks without Docker: the demo's *-raw jobs run Debian's nginx and redis this way.
plugin "raw_exec" {
  config {
    enabled = true
  }
}

client {
  enabled = true
}

# yurt's own blocks: the Consul role and the Fabio role.
catalog {
  enabled = true
}

router {
  proxy_addr   = "127.0.0.1:9999"
  ui_addr      = "127.0.0.1:9998"
  service_name = "fabio"
}

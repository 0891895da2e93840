"""yurt: Consul, Nomad and Fabio's HTTP APIs and job files in one pure-Python stack."""

__version__ = "0.1.0"

# The product versions whose wire behaviour yurt follows; clients read these from
# /v1/agent/self and decide which features to use.
CONSUL_VERSION = "1.17.0"
NOMAD_VERSION = "1.7.2"
FABIO_VERSION = "1.6.3"

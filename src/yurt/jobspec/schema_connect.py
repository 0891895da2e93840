"""A service's `connect` block (Consul service mesh): api.ConsulConnect with its sidecar
service and proxy (upstreams, expose paths), sidecar task, and gateways (ingress,
terminating, mesh), field for field as Nomad's api package defines them."""

from __future__ import annotations

from yurt.jobspec.schema_core import Attr, Blk, Spec, add, nulls
from yurt.jobspec.schema_task import TASK_BASE_ATTRS, TASK_BASE_BLOCKS

add(
    Spec(
        "connect",
        (("Native", False), *nulls("Gateway", "SidecarService", "SidecarTask")),
        attrs={"native": Attr("Native", "bool")},
        blocks={
            "gateway": Blk("Gateway", "gateway"),
            "sidecar_service": Blk("SidecarService", "sidecar_service"),
            "sidecar_task": Blk("SidecarTask", "sidecar_task"),
        },
    )
)

add(
    Spec(
        "sidecar_service",
        (
            ("Tags", None),
            ("Port", ""),
            ("Proxy", None),
            ("DisableDefaultTCPCheck", False),
            ("Meta", None),
        ),
        attrs={
            "tags": Attr("Tags", "strs"),
            "port": Attr("Port", "str"),
            "disable_default_tcp_check": Attr("DisableDefaultTCPCheck", "bool"),
            "meta": Attr("Meta", "map"),
        },
        blocks={"proxy": Blk("Proxy", "proxy"), "meta": Blk("Meta", "map")},
    )
)

add(
    Spec(
        "proxy",
        (
            ("LocalServiceAddress", ""),
            ("LocalServicePort", 0),
            *nulls("Expose", "ExposeConfig", "Upstreams", "Config"),
        ),
        attrs={
            "local_service_address": Attr("LocalServiceAddress", "str"),
            "local_service_port": Attr("LocalServicePort", "int"),
        },
        blocks={
            "expose": Blk("Expose", "expose"),
            "upstreams": Blk("Upstreams", "upstream", multi=True),
            "config": Blk("Config", "freeform"),
        },
    )
)

add(
    Spec(
        "upstream",
        (
            ("DestinationName", ""),
            ("DestinationNamespace", ""),
            ("LocalBindPort", 0),
            ("Datacenter", ""),
            ("LocalBindAddress", ""),
            ("MeshGateway", None),
            ("Config", None),
        ),
        attrs={
            "destination_name": Attr("DestinationName", "str"),
            "destination_namespace": Attr("DestinationNamespace", "str"),
            "local_bind_port": Attr("LocalBindPort", "int"),
            "datacenter": Attr("Datacenter", "str"),
            "local_bind_address": Attr("LocalBindAddress", "str"),
        },
        blocks={
            "mesh_gateway": Blk("MeshGateway", "mesh_gateway"),
            "config": Blk("Config", "freeform"),
        },
    )
)

add(Spec("mesh_gateway", (("Mode", ""),), attrs={"mode": Attr("Mode", "str")}))

# `path` blocks fill Paths; Path is the deprecated field the API still carries.
add(
    Spec(
        "expose",
        nulls("Paths", "Path"),
        blocks={"path": Blk("Paths", "expose_path", multi=True)},
    )
)

add(
    Spec(
        "expose_path",
        (("Path", ""), ("Protocol", ""), ("LocalPathPort", 0), ("ListenerPort", "")),
        attrs={
            "path": Attr("Path", "str"),
            "protocol": Attr("Protocol", "str"),
            "local_path_port": Attr("LocalPathPort", "int"),
            "listener_port": Attr("ListenerPort", "str"),
        },
    )
)

add(
    Spec(
        "sidecar_task",
        (
            ("Name", ""),
            ("Driver", ""),
            ("User", ""),
            *nulls("Config", "Env", "Resources", "Meta", "KillTimeout", "LogConfig"),
            ("ShutdownDelay", None),
            ("KillSignal", ""),
        ),
        attrs={"name": Attr("Name", "str"), **TASK_BASE_ATTRS},
        blocks=TASK_BASE_BLOCKS,
    )
)

add(
    Spec(
        "gateway",
        nulls("Proxy", "Ingress", "Terminating", "Mesh"),
        blocks={
            "proxy": Blk("Proxy", "gateway_proxy"),
            "ingress": Blk("Ingress", "ingress"),
            "terminating": Blk("Terminating", "terminating"),
            "mesh": Blk("Mesh", "mesh"),
        },
    )
)

add(
    Spec(
        "gateway_proxy",
        (
            ("ConnectTimeout", None),
            ("EnvoyGatewayBindTaggedAddresses", False),
            ("EnvoyGatewayBindAddresses", None),
            ("EnvoyGatewayNoDefaultBind", False),
            ("EnvoyDNSDiscoveryType", ""),
            ("Config", None),
        ),
        attrs={
            "connect_timeout": Attr("ConnectTimeout", "dur"),
            "envoy_gateway_bind_tagged_addresses": Attr("EnvoyGatewayBindTaggedAddresses", "bool"),
            "envoy_gateway_no_default_bind": Attr("EnvoyGatewayNoDefaultBind", "bool"),
            "envoy_dns_discovery_type": Attr("EnvoyDNSDiscoveryType", "str"),
        },
        blocks={
            "envoy_gateway_bind_addresses": Blk(
                "EnvoyGatewayBindAddresses", "bind_address", multi=True, label="Name", keyed=True
            ),
            "config": Blk("Config", "freeform"),
        },
    )
)

add(
    Spec(
        "bind_address",
        (("Name", ""), ("Address", ""), ("Port", 0)),
        attrs={"address": Attr("Address", "str"), "port": Attr("Port", "int")},
        labels=1,
    )
)

add(
    Spec(
        "ingress",
        nulls("TLS", "Listeners"),
        blocks={
            "tls": Blk("TLS", "gateway_tls"),
            "listener": Blk("Listeners", "listener", multi=True),
        },
    )
)

add(
    Spec(
        "gateway_tls",
        (("Enabled", False), ("TLSMinVersion", ""), ("TLSMaxVersion", ""), ("CipherSuites", None)),
        attrs={
            "enabled": Attr("Enabled", "bool"),
            "tls_min_version": Attr("TLSMinVersion", "str"),
            "tls_max_version": Attr("TLSMaxVersion", "str"),
            "cipher_suites": Attr("CipherSuites", "strs"),
        },
    )
)

add(
    Spec(
        "listener",
        (("Port", 0), ("Protocol", ""), ("Services", None)),
        attrs={"port": Attr("Port", "int"), "protocol": Attr("Protocol", "str")},
        blocks={"service": Blk("Services", "ingress_service", multi=True)},
    )
)

add(
    Spec(
        "ingress_service",
        (("Name", ""), ("Hosts", None)),
        attrs={"name": Attr("Name", "str"), "hosts": Attr("Hosts", "strs")},
    )
)

add(
    Spec(
        "terminating",
        (("Services", None),),
        blocks={"service": Blk("Services", "linked_service", multi=True)},
    )
)

add(
    Spec(
        "linked_service",
        (("Name", ""), ("CAFile", ""), ("CertFile", ""), ("KeyFile", ""), ("SNI", "")),
        attrs={
            "name": Attr("Name", "str"),
            "ca_file": Attr("CAFile", "str"),
            "cert_file": Attr("CertFile", "str"),
            "key_file": Attr("KeyFile", "str"),
            "sni": Attr("SNI", "str"),
        },
    )
)

add(Spec("mesh", ()))

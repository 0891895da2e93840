"""The network blocks of the job specification (api.NetworkResource, ports, dns)."""

from __future__ import annotations

from yurt.jobspec.schema_core import Attr, Blk, Spec, add, nulls

add(
    Spec(
        "network",
        (
            ("Mode", ""),
            ("Device", ""),
            ("CIDR", ""),
            ("IP", ""),
            ("DNS", None),
            ("ReservedPorts", None),
            ("DynamicPorts", None),
            ("Hostname", ""),
            ("MBits", None),
        ),
        attrs={
            "mode": Attr("Mode", "str"),
            "hostname": Attr("Hostname", "str"),
            "mbits": Attr("MBits", "int"),
            "device": Attr("Device", "str"),
            "cidr": Attr("CIDR", "str"),
            "ip": Attr("IP", "str"),
        },
        blocks={
            "port": Blk("DynamicPorts", "port", multi=True, label="Label"),
            "dns": Blk("DNS", "dns"),
        },
    )
)

add(
    Spec(
        "port",
        (("Label", ""), ("Value", 0), ("To", 0), ("HostNetwork", "")),
        attrs={
            "static": Attr("Value", "int"),
            "to": Attr("To", "int"),
            "host_network": Attr("HostNetwork", "str"),
        },
        labels=1,
    )
)

add(
    Spec(
        "dns",
        nulls("Servers", "Searches", "Options"),
        attrs={
            "servers": Attr("Servers", "strs"),
            "searches": Attr("Searches", "strs"),
            "options": Attr("Options", "strs"),
        },
    )
)

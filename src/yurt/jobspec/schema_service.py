"""The service blocks of the job specification (api.Service, its checks, check_restart
and weights; `connect` is in schema_connect)."""

from __future__ import annotations

from yurt.jobspec.schema_core import Attr, Blk, Spec, add

add(
    Spec(
        "service",
        (
            ("Name", ""),
            ("Tags", None),
            ("CanaryTags", None),
            ("EnableTagOverride", False),
            ("PortLabel", ""),
            ("AddressMode", ""),
            ("Address", ""),
            ("Checks", None),
            ("CheckRestart", None),
            ("Connect", None),
            ("Meta", None),
            ("CanaryMeta", None),
            ("TaggedAddresses", None),
            ("TaskName", ""),
            ("OnUpdate", ""),
            ("Identity", None),
            ("Provider", ""),
            ("Cluster", ""),
        ),
        attrs={
            "name": Attr("Name", "str"),
            "tags": Attr("Tags", "strs"),
            "canary_tags": Attr("CanaryTags", "strs"),
            "enable_tag_override": Attr("EnableTagOverride", "bool"),
            "port": Attr("PortLabel", "str"),
            "address_mode": Attr("AddressMode", "str"),
            "address": Attr("Address", "str"),
            "task": Attr("TaskName", "str"),
            "on_update": Attr("OnUpdate", "str"),
            "provider": Attr("Provider", "str"),
            "cluster": Attr("Cluster", "str"),
            "meta": Attr("Meta", "map"),
            "canary_meta": Attr("CanaryMeta", "map"),
            "tagged_addresses": Attr("TaggedAddresses", "map"),
        },
        blocks={
            "check": Blk("Checks", "check", multi=True),
            "check_restart": Blk("CheckRestart", "check_restart"),
            "meta": Blk("Meta", "map"),
            "canary_meta": Blk("CanaryMeta", "map"),
            "tagged_addresses": Blk("TaggedAddresses", "map"),
            "connect": Blk("Connect", "connect"),
            "identity": Blk("Identity", "identity"),
            "weights": Blk("Weights", "weights"),
        },
    )
)

add(
    Spec(
        "check",
        (
            ("Name", ""),
            ("Type", ""),
            ("Command", ""),
            ("Args", None),
            ("Path", ""),
            ("Protocol", ""),
            ("PortLabel", ""),
            ("Expose", False),
            ("AddressMode", ""),
            ("Advertise", ""),
            ("Interval", 0),
            ("Timeout", 0),
            ("InitialStatus", ""),
            ("Notes", ""),
            ("TLSServerName", ""),
            ("TLSSkipVerify", False),
            ("Header", None),
            ("Method", ""),
            ("CheckRestart", None),
            ("GRPCService", ""),
            ("GRPCUseTLS", False),
            ("TaskName", ""),
            ("SuccessBeforePassing", 0),
            ("FailuresBeforeCritical", 0),
            ("FailuresBeforeWarning", 0),
            ("Body", ""),
            ("OnUpdate", ""),
        ),
        attrs={
            "name": Attr("Name", "str"),
            "type": Attr("Type", "str"),
            "command": Attr("Command", "str"),
            "args": Attr("Args", "strs"),
            "path": Attr("Path", "str"),
            "protocol": Attr("Protocol", "str"),
            "port": Attr("PortLabel", "str"),
            "expose": Attr("Expose", "bool"),
            "address_mode": Attr("AddressMode", "str"),
            "advertise": Attr("Advertise", "str"),
            "interval": Attr("Interval", "dur"),
            "timeout": Attr("Timeout", "dur"),
            "initial_status": Attr("InitialStatus", "str"),
            "notes": Attr("Notes", "str"),
            "tls_server_name": Attr("TLSServerName", "str"),
            "tls_skip_verify": Attr("TLSSkipVerify", "bool"),
            "method": Attr("Method", "str"),
            "grpc_service": Attr("GRPCService", "str"),
            "grpc_use_tls": Attr("GRPCUseTLS", "bool"),
            "task": Attr("TaskName", "str"),
            "success_before_passing": Attr("SuccessBeforePassing", "int"),
            "failures_before_critical": Attr("FailuresBeforeCritical", "int"),
            "failures_before_warning": Attr("FailuresBeforeWarning", "int"),
            "body": Attr("Body", "str"),
            "on_update": Attr("OnUpdate", "str"),
            "header": Attr("Header", "listmap"),
        },
        blocks={
            "header": Blk("Header", "listmap"),
            "check_restart": Blk("CheckRestart", "check_restart"),
        },
    )
)

add(
    Spec(
        "check_restart",
        (("Limit", 0), ("Grace", None), ("IgnoreWarnings", False)),
        attrs={
            "limit": Attr("Limit", "int"),
            "grace": Attr("Grace", "dur"),
            "ignore_warnings": Attr("IgnoreWarnings", "bool"),
        },
    )
)

# Nomad 1.9's service `weights` block (api.ServiceWeights); newer than the API yurt
# reports, so it appears in the service only when the file has one.
add(
    Spec(
        "weights",
        (("Passing", 0), ("Warning", 0)),
        attrs={"passing": Attr("Passing", "int"), "warning": Attr("Warning", "int")},
    )
)

"""Nomad's job specification: which blocks and attributes each block takes, and the API
JSON fields they fill (api.Job and friends, as `nomad job run -output` prints them).

Each `Spec` lists every field of the API struct in order with its zero value (null for
Go pointers, "" / 0 / false for plain values), so that a decoded block has the same
shape as Nomad's output, and then maps HCL names onto those fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Attr:
    json: str
    kind: str  # str | int | float | bool | dur | strs | any | map | listmap


@dataclass(frozen=True)
class Blk:
    json: str
    spec: str  # name of a Spec, or "map" / "freeform" / "listmap"
    multi: bool = False
    label: str | None = None  # JSON field the block label goes to
    keyed: bool = False  # labelled blocks become a dict keyed by label


@dataclass(frozen=True)
class Spec:
    name: str
    fields: tuple[tuple[str, Any], ...]
    attrs: dict[str, Attr] = field(default_factory=dict)
    blocks: dict[str, Blk] = field(default_factory=dict)
    labels: int = 0


def _nulls(*names: str) -> tuple[tuple[str, Any], ...]:
    return tuple((n, None) for n in names)


CONSTRAINT_ATTRS = {
    "attribute": Attr("LTarget", "str"),
    "value": Attr("RTarget", "str"),
    "operator": Attr("Operand", "str"),
    "version": Attr("", "str"),
    "semver": Attr("", "str"),
    "regexp": Attr("", "str"),
    "set_contains": Attr("", "str"),
    "set_contains_all": Attr("", "str"),
    "set_contains_any": Attr("", "str"),
    "distinct_hosts": Attr("", "bool"),
    "distinct_property": Attr("", "str"),
    "attribute_is_set": Attr("", "str"),
    "attribute_is_not_set": Attr("", "str"),
}

SPECS: dict[str, Spec] = {}


def _add(spec: Spec) -> None:
    SPECS[spec.name] = spec


_add(
    Spec(
        "job",
        (
            *_nulls(
                "Region",
                "Namespace",
                "ID",
                "Name",
                "Type",
                "Priority",
                "AllAtOnce",
                "Datacenters",
                "NodePool",
                "Constraints",
                "Affinities",
                "TaskGroups",
                "Update",
                "Multiregion",
                "Spreads",
                "Periodic",
                "ParameterizedJob",
                "Reschedule",
                "Migrate",
                "Meta",
                "ConsulToken",
                "VaultToken",
                "Stop",
                "ParentID",
            ),
            ("Dispatched", False),
            *_nulls(
                "DispatchIdempotencyToken",
                "Payload",
                "ConsulNamespace",
                "VaultNamespace",
                "NomadTokenID",
                "Status",
                "StatusDescription",
                "Stable",
                "Version",
                "SubmitTime",
                "CreateIndex",
                "ModifyIndex",
                "JobModifyIndex",
            ),
        ),
        attrs={
            "region": Attr("Region", "str"),
            "namespace": Attr("Namespace", "str"),
            "id": Attr("ID", "str"),
            "name": Attr("Name", "str"),
            "type": Attr("Type", "str"),
            "priority": Attr("Priority", "int"),
            "all_at_once": Attr("AllAtOnce", "bool"),
            "datacenters": Attr("Datacenters", "strs"),
            "node_pool": Attr("NodePool", "str"),
            "consul_token": Attr("ConsulToken", "str"),
            "vault_token": Attr("VaultToken", "str"),
            "meta": Attr("Meta", "map"),
        },
        blocks={
            "group": Blk("TaskGroups", "group", multi=True, label="Name"),
            "task": Blk("", "task", multi=True, label="Name"),
            "constraint": Blk("Constraints", "constraint", multi=True),
            "affinity": Blk("Affinities", "affinity", multi=True),
            "spread": Blk("Spreads", "spread", multi=True),
            "update": Blk("Update", "update"),
            "migrate": Blk("Migrate", "migrate"),
            "reschedule": Blk("Reschedule", "reschedule"),
            "periodic": Blk("Periodic", "periodic"),
            "parameterized": Blk("ParameterizedJob", "parameterized"),
            "meta": Blk("Meta", "map"),
            "multiregion": Blk("Multiregion", "freeform"),
            "vault": Blk("", "vault"),
        },
        labels=1,
    )
)

_add(
    Spec(
        "group",
        _nulls(
            "Name",
            "Count",
            "Constraints",
            "Affinities",
            "Tasks",
            "Spreads",
            "Volumes",
            "RestartPolicy",
            "ReschedulePolicy",
            "EphemeralDisk",
            "Update",
            "Migrate",
            "Networks",
            "Meta",
            "Services",
            "ShutdownDelay",
            "StopAfterClientDisconnect",
            "MaxClientDisconnect",
            "Scaling",
            "Consul",
        ),
        attrs={
            "count": Attr("Count", "int"),
            "shutdown_delay": Attr("ShutdownDelay", "dur"),
            "stop_after_client_disconnect": Attr("StopAfterClientDisconnect", "dur"),
            "max_client_disconnect": Attr("MaxClientDisconnect", "dur"),
            "meta": Attr("Meta", "map"),
        },
        blocks={
            "task": Blk("Tasks", "task", multi=True, label="Name"),
            "constraint": Blk("Constraints", "constraint", multi=True),
            "affinity": Blk("Affinities", "affinity", multi=True),
            "spread": Blk("Spreads", "spread", multi=True),
            "volume": Blk("Volumes", "volume", multi=True, label="Name", keyed=True),
            "restart": Blk("RestartPolicy", "restart"),
            "reschedule": Blk("ReschedulePolicy", "reschedule"),
            "ephemeral_disk": Blk("EphemeralDisk", "ephemeral_disk"),
            "update": Blk("Update", "update"),
            "migrate": Blk("Migrate", "migrate"),
            "network": Blk("Networks", "network", multi=True),
            "meta": Blk("Meta", "map"),
            "service": Blk("Services", "service", multi=True),
            "scaling": Blk("Scaling", "freeform"),
            "consul": Blk("Consul", "consul"),
            "vault": Blk("", "vault"),
        },
        labels=1,
    )
)

_add(
    Spec(
        "task",
        (
            ("Name", ""),
            ("Driver", ""),
            ("User", ""),
            *_nulls(
                "Lifecycle",
                "Config",
                "Constraints",
                "Affinities",
                "Env",
                "Services",
                "Resources",
                "RestartPolicy",
                "Meta",
                "KillTimeout",
                "LogConfig",
                "Artifacts",
                "Vault",
                "Consul",
                "Templates",
                "DispatchPayload",
                "VolumeMounts",
            ),
            ("Leader", False),
            ("ShutdownDelay", 0),
            ("KillSignal", ""),
            ("Kind", ""),
            *_nulls("ScalingPolicies", "Identity", "Identities", "Actions"),
        ),
        attrs={
            "driver": Attr("Driver", "str"),
            "user": Attr("User", "str"),
            "kill_timeout": Attr("KillTimeout", "dur"),
            "kill_signal": Attr("KillSignal", "str"),
            "shutdown_delay": Attr("ShutdownDelay", "dur"),
            "leader": Attr("Leader", "bool"),
            "kind": Attr("Kind", "str"),
            "env": Attr("Env", "map"),
            "meta": Attr("Meta", "map"),
        },
        blocks={
            "config": Blk("Config", "freeform"),
            "env": Blk("Env", "map"),
            "meta": Blk("Meta", "map"),
            "constraint": Blk("Constraints", "constraint", multi=True),
            "affinity": Blk("Affinities", "affinity", multi=True),
            "service": Blk("Services", "service", multi=True),
            "resources": Blk("Resources", "resources"),
            "restart": Blk("RestartPolicy", "restart"),
            "logs": Blk("LogConfig", "logs"),
            "artifact": Blk("Artifacts", "artifact", multi=True),
            "template": Blk("Templates", "template", multi=True),
            "lifecycle": Blk("Lifecycle", "lifecycle"),
            "dispatch_payload": Blk("DispatchPayload", "dispatch_payload"),
            "volume_mount": Blk("VolumeMounts", "volume_mount", multi=True),
            "vault": Blk("Vault", "vault"),
            "consul": Blk("Consul", "consul"),
            "identity": Blk("Identities", "freeform", multi=True),
            "csi_plugin": Blk("CSIPluginConfig", "freeform"),
        },
        labels=1,
    )
)

_add(
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
            "connect": Blk("Connect", "freeform"),
        },
    )
)

_add(
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

_add(
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

_add(
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

_add(
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

_add(
    Spec(
        "dns",
        _nulls("Servers", "Searches", "Options"),
        attrs={
            "servers": Attr("Servers", "strs"),
            "searches": Attr("Searches", "strs"),
            "options": Attr("Options", "strs"),
        },
    )
)

_add(
    Spec(
        "resources",
        _nulls(
            "CPU",
            "Cores",
            "MemoryMB",
            "MemoryMaxMB",
            "DiskMB",
            "Networks",
            "Devices",
            "NUMA",
            "IOPS",
        ),
        attrs={
            "cpu": Attr("CPU", "int"),
            "cores": Attr("Cores", "int"),
            "memory": Attr("MemoryMB", "int"),
            "memory_max": Attr("MemoryMaxMB", "int"),
            "disk": Attr("DiskMB", "int"),
            "iops": Attr("IOPS", "int"),
        },
        blocks={
            "network": Blk("Networks", "network", multi=True),
            "device": Blk("Devices", "device", multi=True, label="Name"),
            "numa": Blk("NUMA", "freeform"),
        },
    )
)

_add(
    Spec(
        "device",
        (("Name", ""), *_nulls("Count", "Constraints", "Affinities")),
        attrs={"count": Attr("Count", "int")},
        blocks={
            "constraint": Blk("Constraints", "constraint", multi=True),
            "affinity": Blk("Affinities", "affinity", multi=True),
        },
        labels=1,
    )
)

_add(
    Spec(
        "restart",
        _nulls("Interval", "Attempts", "Delay", "Mode", "RenderTemplates"),
        attrs={
            "interval": Attr("Interval", "dur"),
            "attempts": Attr("Attempts", "int"),
            "delay": Attr("Delay", "dur"),
            "mode": Attr("Mode", "str"),
            "render_templates": Attr("RenderTemplates", "bool"),
        },
    )
)

_add(
    Spec(
        "reschedule",
        _nulls("Attempts", "Interval", "Delay", "DelayFunction", "MaxDelay", "Unlimited"),
        attrs={
            "attempts": Attr("Attempts", "int"),
            "interval": Attr("Interval", "dur"),
            "delay": Attr("Delay", "dur"),
            "delay_function": Attr("DelayFunction", "str"),
            "max_delay": Attr("MaxDelay", "dur"),
            "unlimited": Attr("Unlimited", "bool"),
        },
    )
)

_add(
    Spec(
        "migrate",
        _nulls("MaxParallel", "HealthCheck", "MinHealthyTime", "HealthyDeadline"),
        attrs={
            "max_parallel": Attr("MaxParallel", "int"),
            "health_check": Attr("HealthCheck", "str"),
            "min_healthy_time": Attr("MinHealthyTime", "dur"),
            "healthy_deadline": Attr("HealthyDeadline", "dur"),
        },
    )
)

_add(
    Spec(
        "update",
        _nulls(
            "Stagger",
            "MaxParallel",
            "HealthCheck",
            "MinHealthyTime",
            "HealthyDeadline",
            "ProgressDeadline",
            "Canary",
            "AutoRevert",
            "AutoPromote",
        ),
        attrs={
            "stagger": Attr("Stagger", "dur"),
            "max_parallel": Attr("MaxParallel", "int"),
            "health_check": Attr("HealthCheck", "str"),
            "min_healthy_time": Attr("MinHealthyTime", "dur"),
            "healthy_deadline": Attr("HealthyDeadline", "dur"),
            "progress_deadline": Attr("ProgressDeadline", "dur"),
            "canary": Attr("Canary", "int"),
            "auto_revert": Attr("AutoRevert", "bool"),
            "auto_promote": Attr("AutoPromote", "bool"),
        },
    )
)

_add(
    Spec(
        "ephemeral_disk",
        _nulls("Sticky", "Migrate", "SizeMB"),
        attrs={
            "sticky": Attr("Sticky", "bool"),
            "migrate": Attr("Migrate", "bool"),
            "size": Attr("SizeMB", "int"),
        },
    )
)

_add(
    Spec(
        "template",
        _nulls(
            "SourcePath",
            "DestPath",
            "EmbeddedTmpl",
            "ChangeMode",
            "ChangeScript",
            "ChangeSignal",
            "Splay",
            "Perms",
            "Uid",
            "Gid",
            "LeftDelim",
            "RightDelim",
            "Envvars",
            "VaultGrace",
            "Wait",
            "ErrMissingKey",
        ),
        attrs={
            "source": Attr("SourcePath", "str"),
            "destination": Attr("DestPath", "str"),
            "data": Attr("EmbeddedTmpl", "str"),
            "change_mode": Attr("ChangeMode", "str"),
            "change_signal": Attr("ChangeSignal", "str"),
            "splay": Attr("Splay", "dur"),
            "perms": Attr("Perms", "str"),
            "uid": Attr("Uid", "int"),
            "gid": Attr("Gid", "int"),
            "left_delimiter": Attr("LeftDelim", "str"),
            "right_delimiter": Attr("RightDelim", "str"),
            "env": Attr("Envvars", "bool"),
            "vault_grace": Attr("VaultGrace", "dur"),
            "error_on_missing_key": Attr("ErrMissingKey", "bool"),
        },
        blocks={
            "wait": Blk("Wait", "wait"),
            "change_script": Blk("ChangeScript", "change_script"),
        },
    )
)

_add(
    Spec(
        "wait",
        _nulls("Min", "Max"),
        attrs={"min": Attr("Min", "dur"), "max": Attr("Max", "dur")},
    )
)

_add(
    Spec(
        "change_script",
        _nulls("Command", "Args", "Timeout", "FailOnError"),
        attrs={
            "command": Attr("Command", "str"),
            "args": Attr("Args", "strs"),
            "timeout": Attr("Timeout", "dur"),
            "fail_on_error": Attr("FailOnError", "bool"),
        },
    )
)

_add(
    Spec(
        "artifact",
        _nulls(
            "GetterSource",
            "GetterOptions",
            "GetterHeaders",
            "GetterMode",
            "GetterInsecure",
            "RelativeDest",
        ),
        attrs={
            "source": Attr("GetterSource", "str"),
            "mode": Attr("GetterMode", "str"),
            "insecure": Attr("GetterInsecure", "bool"),
            "destination": Attr("RelativeDest", "str"),
            "options": Attr("GetterOptions", "map"),
            "headers": Attr("GetterHeaders", "map"),
        },
        blocks={
            "options": Blk("GetterOptions", "map"),
            "headers": Blk("GetterHeaders", "map"),
        },
    )
)

_add(
    Spec(
        "logs",
        _nulls("MaxFiles", "MaxFileSizeMB", "Enabled", "Disabled"),
        attrs={
            "max_files": Attr("MaxFiles", "int"),
            "max_file_size": Attr("MaxFileSizeMB", "int"),
            "enabled": Attr("Enabled", "bool"),
            "disabled": Attr("Disabled", "bool"),
        },
    )
)

_add(
    Spec(
        "lifecycle",
        (("Hook", ""), ("Sidecar", False)),
        attrs={"hook": Attr("Hook", "str"), "sidecar": Attr("Sidecar", "bool")},
    )
)

_add(Spec("dispatch_payload", (("File", ""),), attrs={"file": Attr("File", "str")}))

_add(
    Spec(
        "volume_mount",
        _nulls("Volume", "Destination", "ReadOnly", "PropagationMode"),
        attrs={
            "volume": Attr("Volume", "str"),
            "destination": Attr("Destination", "str"),
            "read_only": Attr("ReadOnly", "bool"),
            "propagation_mode": Attr("PropagationMode", "str"),
        },
    )
)

_add(
    Spec(
        "volume",
        (
            ("Name", ""),
            ("Type", ""),
            ("Source", ""),
            ("ReadOnly", False),
            ("AccessMode", ""),
            ("AttachmentMode", ""),
            ("MountOptions", None),
            ("PerAlloc", False),
        ),
        attrs={
            "type": Attr("Type", "str"),
            "source": Attr("Source", "str"),
            "read_only": Attr("ReadOnly", "bool"),
            "access_mode": Attr("AccessMode", "str"),
            "attachment_mode": Attr("AttachmentMode", "str"),
            "per_alloc": Attr("PerAlloc", "bool"),
        },
        blocks={"mount_options": Blk("MountOptions", "mount_options")},
        labels=1,
    )
)

_add(
    Spec(
        "mount_options",
        (("FSType", ""), ("MountFlags", None)),
        attrs={"fs_type": Attr("FSType", "str"), "mount_flags": Attr("MountFlags", "strs")},
    )
)

_add(
    Spec(
        "constraint",
        (("LTarget", ""), ("RTarget", ""), ("Operand", "")),
        attrs=CONSTRAINT_ATTRS,
    )
)

_add(
    Spec(
        "affinity",
        (("LTarget", ""), ("RTarget", ""), ("Operand", ""), ("Weight", None)),
        attrs={
            **{
                k: v
                for k, v in CONSTRAINT_ATTRS.items()
                if k
                not in (
                    "distinct_hosts",
                    "distinct_property",
                    "attribute_is_set",
                    "attribute_is_not_set",
                )
            },
            "weight": Attr("Weight", "int"),
        },
    )
)

_add(
    Spec(
        "spread",
        (("Attribute", ""), ("Weight", None), ("SpreadTarget", None)),
        attrs={"attribute": Attr("Attribute", "str"), "weight": Attr("Weight", "int")},
        blocks={"target": Blk("SpreadTarget", "spread_target", multi=True, label="Value")},
    )
)

_add(
    Spec(
        "spread_target",
        (("Value", ""), ("Percent", 0)),
        attrs={"percent": Attr("Percent", "int")},
        labels=1,
    )
)

_add(
    Spec(
        "periodic",
        (
            ("Enabled", None),
            ("Spec", None),
            ("Specs", None),
            ("SpecType", None),
            *_nulls("ProhibitOverlap", "TimeZone"),
        ),
        attrs={
            "enabled": Attr("Enabled", "bool"),
            "cron": Attr("Spec", "str"),
            "crons": Attr("Specs", "strs"),
            "prohibit_overlap": Attr("ProhibitOverlap", "bool"),
            "time_zone": Attr("TimeZone", "str"),
        },
    )
)

_add(
    Spec(
        "parameterized",
        (("Payload", ""), ("MetaRequired", None), ("MetaOptional", None)),
        attrs={
            "payload": Attr("Payload", "str"),
            "meta_required": Attr("MetaRequired", "strs"),
            "meta_optional": Attr("MetaOptional", "strs"),
        },
    )
)

_add(
    Spec(
        "consul",
        (("Namespace", ""), ("Cluster", ""), ("Partition", "")),
        attrs={
            "namespace": Attr("Namespace", "str"),
            "cluster": Attr("Cluster", "str"),
            "partition": Attr("Partition", "str"),
        },
    )
)

_add(
    Spec(
        "vault",
        (
            ("Policies", None),
            ("Role", ""),
            ("Namespace", None),
            ("Cluster", ""),
            *_nulls("Env", "DisableFile", "ChangeMode", "ChangeSignal", "AllowTokenExpiration"),
        ),
        attrs={
            "policies": Attr("Policies", "strs"),
            "role": Attr("Role", "str"),
            "namespace": Attr("Namespace", "str"),
            "cluster": Attr("Cluster", "str"),
            "env": Attr("Env", "bool"),
            "disable_file": Attr("DisableFile", "bool"),
            "change_mode": Attr("ChangeMode", "str"),
            "change_signal": Attr("ChangeSignal", "str"),
            "allow_token_expiration": Attr("AllowTokenExpiration", "bool"),
        },
    )
)

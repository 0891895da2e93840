"""The task-level blocks of the job specification (api.Task, its resources, templates,
artifacts, logs, lifecycle, volume mounts, csi_plugin, identities, actions, schedule,
secrets)."""

from __future__ import annotations

from yurt.jobspec.schema_core import Attr, Blk, Spec, add, nulls

# What a task and a Connect sidecar task (api.SidecarTask) both take, decoded alike.
TASK_BASE_ATTRS = {
    "driver": Attr("Driver", "str"),
    "user": Attr("User", "str"),
    "kill_timeout": Attr("KillTimeout", "dur"),
    "kill_signal": Attr("KillSignal", "str"),
    "shutdown_delay": Attr("ShutdownDelay", "dur"),
    "env": Attr("Env", "map"),
    "meta": Attr("Meta", "map"),
}
TASK_BASE_BLOCKS = {
    "config": Blk("Config", "freeform"),
    "env": Blk("Env", "map"),
    "meta": Blk("Meta", "map"),
    "resources": Blk("Resources", "resources"),
    "logs": Blk("LogConfig", "logs"),
}

add(
    Spec(
        "task",
        (
            ("Name", ""),
            ("Driver", ""),
            ("User", ""),
            *nulls(
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
            *nulls("ScalingPolicies", "Identity", "Identities", "Actions"),
        ),
        attrs={
            **TASK_BASE_ATTRS,
            "leader": Attr("Leader", "bool"),
            "kind": Attr("Kind", "str"),
        },
        blocks={
            **TASK_BASE_BLOCKS,
            "constraint": Blk("Constraints", "constraint", multi=True),
            "affinity": Blk("Affinities", "affinity", multi=True),
            "service": Blk("Services", "service", multi=True),
            "restart": Blk("RestartPolicy", "restart"),
            "artifact": Blk("Artifacts", "artifact", multi=True),
            "template": Blk("Templates", "template", multi=True),
            "lifecycle": Blk("Lifecycle", "lifecycle"),
            "dispatch_payload": Blk("DispatchPayload", "dispatch_payload"),
            "volume_mount": Blk("VolumeMounts", "volume_mount", multi=True),
            "vault": Blk("Vault", "vault"),
            "consul": Blk("Consul", "consul"),
            "identity": Blk("Identities", "identity", multi=True),
            "csi_plugin": Blk("CSIPluginConfig", "csi_plugin"),
            "scaling": Blk("ScalingPolicies", "task_scaling", multi=True),
            "action": Blk("Actions", "action", multi=True, label="Name"),
            "schedule": Blk("Schedule", "schedule"),
            "secret": Blk("Secrets", "secret", multi=True, label="Name"),
        },
        labels=1,
    )
)

add(
    Spec(
        "resources",
        nulls(
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
            "numa": Blk("NUMA", "numa"),
        },
    )
)

add(
    Spec(
        "device",
        (("Name", ""), *nulls("Count", "Constraints", "Affinities")),
        attrs={"count": Attr("Count", "int")},
        blocks={
            "constraint": Blk("Constraints", "constraint", multi=True),
            "affinity": Blk("Affinities", "affinity", multi=True),
        },
        labels=1,
    )
)

add(
    Spec(
        "template",
        nulls(
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

add(
    Spec(
        "wait",
        nulls("Min", "Max"),
        attrs={"min": Attr("Min", "dur"), "max": Attr("Max", "dur")},
    )
)

add(
    Spec(
        "change_script",
        nulls("Command", "Args", "Timeout", "FailOnError"),
        attrs={
            "command": Attr("Command", "str"),
            "args": Attr("Args", "strs"),
            "timeout": Attr("Timeout", "dur"),
            "fail_on_error": Attr("FailOnError", "bool"),
        },
    )
)

add(
    Spec(
        "artifact",
        nulls(
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

add(
    Spec(
        "logs",
        nulls("MaxFiles", "MaxFileSizeMB", "Enabled", "Disabled"),
        attrs={
            "max_files": Attr("MaxFiles", "int"),
            "max_file_size": Attr("MaxFileSizeMB", "int"),
            "enabled": Attr("Enabled", "bool"),
            "disabled": Attr("Disabled", "bool"),
        },
    )
)

add(
    Spec(
        "lifecycle",
        (("Hook", ""), ("Sidecar", False)),
        attrs={"hook": Attr("Hook", "str"), "sidecar": Attr("Sidecar", "bool")},
    )
)

add(Spec("dispatch_payload", (("File", ""),), attrs={"file": Attr("File", "str")}))

add(
    Spec(
        "volume_mount",
        nulls("Volume", "Destination", "ReadOnly", "PropagationMode"),
        attrs={
            "volume": Attr("Volume", "str"),
            "destination": Attr("Destination", "str"),
            "read_only": Attr("ReadOnly", "bool"),
            "propagation_mode": Attr("PropagationMode", "str"),
        },
    )
)

add(
    Spec(
        "numa",
        (("Affinity", ""),),
        attrs={"affinity": Attr("Affinity", "str"), "devices": Attr("Devices", "strs")},
    )
)

# api.TaskCSIPluginConfig: plain (non-pointer) fields, so their zero values print.
add(
    Spec(
        "csi_plugin",
        (
            ("ID", ""),
            ("Type", ""),
            ("MountDir", ""),
            ("StagePublishBaseDir", ""),
            ("HealthTimeout", 0),
        ),
        attrs={
            "id": Attr("ID", "str"),
            "type": Attr("Type", "str"),
            "mount_dir": Attr("MountDir", "str"),
            "stage_publish_base_dir": Attr("StagePublishBaseDir", "str"),
            "health_timeout": Attr("HealthTimeout", "dur"),
        },
    )
)

# api.WorkloadIdentity: a task's `identity` blocks (the unnamed one is the task's default
# Identity, the named ones its Identities) and a service's `identity` block.
add(
    Spec(
        "identity",
        (
            ("Name", ""),
            ("Audience", None),
            ("ChangeMode", ""),
            ("ChangeSignal", ""),
            ("Env", False),
            ("File", False),
            ("Filepath", ""),
            ("ServiceName", ""),
            ("TTL", 0),
        ),
        attrs={
            "name": Attr("Name", "str"),
            "aud": Attr("Audience", "strs"),
            "change_mode": Attr("ChangeMode", "str"),
            "change_signal": Attr("ChangeSignal", "str"),
            "env": Attr("Env", "bool"),
            "file": Attr("File", "bool"),
            "filepath": Attr("Filepath", "str"),
            "service_name": Attr("ServiceName", "str"),
            "ttl": Attr("TTL", "dur"),
        },
    )
)

add(
    Spec(
        "action",
        (("Name", ""), ("Command", ""), ("Args", None)),
        attrs={"command": Attr("Command", "str"), "args": Attr("Args", "strs")},
        labels=1,
    )
)

# Nomad 1.9's task `schedule` block (api.TaskSchedule, Enterprise), and Nomad 1.11's task
# `secret` blocks (api.Secret): newer than the API yurt reports, so they appear in the
# task only when the file has them.
add(Spec("schedule", (("Cron", None),), blocks={"cron": Blk("Cron", "schedule_cron")}))

add(
    Spec(
        "schedule_cron",
        (("Start", ""), ("End", ""), ("Timezone", "")),
        attrs={
            "start": Attr("Start", "str"),
            "end": Attr("End", "str"),
            "timezone": Attr("Timezone", "str"),
        },
    )
)

add(
    Spec(
        "secret",
        (("Name", ""), ("Provider", ""), ("Path", ""), ("Config", None), ("Env", None)),
        attrs={
            "provider": Attr("Provider", "str"),
            "path": Attr("Path", "str"),
            "env": Attr("Env", "map"),
        },
        blocks={"config": Blk("Config", "freeform"), "env": Blk("Env", "map")},
        labels=1,
    )
)

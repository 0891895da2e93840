"""The group-level blocks of the job specification (api.TaskGroup, its restart,
ephemeral disk, volumes, consul and vault blocks, disconnect and scaling)."""

from __future__ import annotations

from yurt.jobspec.schema_core import Attr, Blk, Spec, add, nulls

add(
    Spec(
        "group",
        nulls(
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
            "scaling": Blk("Scaling", "scaling"),
            "disconnect": Blk("Disconnect", "disconnect"),
            "consul": Blk("Consul", "consul"),
            "vault": Blk("", "vault"),
        },
        labels=1,
    )
)

add(
    Spec(
        "restart",
        nulls("Interval", "Attempts", "Delay", "Mode", "RenderTemplates"),
        attrs={
            "interval": Attr("Interval", "dur"),
            "attempts": Attr("Attempts", "int"),
            "delay": Attr("Delay", "dur"),
            "mode": Attr("Mode", "str"),
            "render_templates": Attr("RenderTemplates", "bool"),
        },
    )
)

add(
    Spec(
        "ephemeral_disk",
        nulls("Sticky", "Migrate", "SizeMB"),
        attrs={
            "sticky": Attr("Sticky", "bool"),
            "migrate": Attr("Migrate", "bool"),
            "size": Attr("SizeMB", "int"),
        },
    )
)

add(
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

add(
    Spec(
        "mount_options",
        (("FSType", ""), ("MountFlags", None)),
        attrs={"fs_type": Attr("FSType", "str"), "mount_flags": Attr("MountFlags", "strs")},
    )
)

add(
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

add(
    Spec(
        "vault",
        (
            ("Policies", None),
            ("Role", ""),
            ("Namespace", None),
            ("Cluster", ""),
            *nulls("Env", "DisableFile", "ChangeMode", "ChangeSignal", "AllowTokenExpiration"),
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

# api.ScalingPolicy: a group's `scaling` block (Type "horizontal") and a task's
# `scaling "cpu"` / `scaling "mem"` blocks (Type "vertical_cpu" / "vertical_mem").
_SCALING_FIELDS = (
    *nulls("Min", "Max", "Policy", "Enabled"),
    ("Type", ""),
    ("ID", ""),
    ("Namespace", ""),
    ("Target", None),
    ("CreateIndex", 0),
    ("ModifyIndex", 0),
)
_SCALING_ATTRS = {
    "min": Attr("Min", "int"),
    "max": Attr("Max", "int"),
    "enabled": Attr("Enabled", "bool"),
    "type": Attr("Type", "str"),
}

add(
    Spec(
        "scaling",
        _SCALING_FIELDS,
        attrs=_SCALING_ATTRS,
        blocks={"policy": Blk("Policy", "freeform")},
    )
)

add(
    Spec(
        "task_scaling",
        _SCALING_FIELDS,
        attrs=_SCALING_ATTRS,
        blocks={"policy": Blk("Policy", "freeform")},
        labels=1,
    )
)

# Nomad 1.8's group `disconnect` block (api.DisconnectStrategy); newer than the API yurt
# reports, so it appears in the group only when the file has one.
add(
    Spec(
        "disconnect",
        nulls("LostAfter", "StopOnClientAfter", "Replace", "Reconcile"),
        attrs={
            "lost_after": Attr("LostAfter", "dur"),
            "stop_on_client_after": Attr("StopOnClientAfter", "dur"),
            "replace": Attr("Replace", "bool"),
            "reconcile": Attr("Reconcile", "str"),
        },
    )
)

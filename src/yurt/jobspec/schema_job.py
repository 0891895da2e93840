"""The job-level blocks of the job specification (api.Job and the policies a job and
its groups share: update, migrate, reschedule, constraint, affinity, spread, periodic,
parameterized, multiregion, ui)."""

from __future__ import annotations

from yurt.jobspec.schema_core import CONSTRAINT_ATTRS, Attr, Blk, Spec, add, nulls

# What the server sets on a job rather than the user (in api.Job's order): a change in
# these is neither a new version of the job's spec nor a line of `job plan`'s diff.
JOB_SERVER_FIELDS = (
    "Status",
    "StatusDescription",
    "Stable",
    "Version",
    "SubmitTime",
    "CreateIndex",
    "ModifyIndex",
    "JobModifyIndex",
)

add(
    Spec(
        "job",
        (
            *nulls(
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
            *nulls(
                "DispatchIdempotencyToken",
                "Payload",
                "ConsulNamespace",
                "VaultNamespace",
                "NomadTokenID",
                *JOB_SERVER_FIELDS,
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
            "multiregion": Blk("Multiregion", "multiregion"),
            "ui": Blk("UI", "ui"),
            "vault": Blk("", "vault"),
        },
        labels=1,
    )
)

add(
    Spec(
        "periodic",
        (
            ("Enabled", None),
            ("Spec", None),
            ("Specs", None),
            ("SpecType", None),
            *nulls("ProhibitOverlap", "TimeZone"),
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

add(
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

add(
    Spec(
        "update",
        nulls(
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

add(
    Spec(
        "migrate",
        nulls("MaxParallel", "HealthCheck", "MinHealthyTime", "HealthyDeadline"),
        attrs={
            "max_parallel": Attr("MaxParallel", "int"),
            "health_check": Attr("HealthCheck", "str"),
            "min_healthy_time": Attr("MinHealthyTime", "dur"),
            "healthy_deadline": Attr("HealthyDeadline", "dur"),
        },
    )
)

add(
    Spec(
        "reschedule",
        nulls("Attempts", "Interval", "Delay", "DelayFunction", "MaxDelay", "Unlimited"),
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

add(
    Spec(
        "constraint",
        (("LTarget", ""), ("RTarget", ""), ("Operand", "")),
        attrs=CONSTRAINT_ATTRS,
    )
)

add(
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

add(
    Spec(
        "spread",
        (("Attribute", ""), ("Weight", None), ("SpreadTarget", None)),
        attrs={"attribute": Attr("Attribute", "str"), "weight": Attr("Weight", "int")},
        blocks={"target": Blk("SpreadTarget", "spread_target", multi=True, label="Value")},
    )
)

add(
    Spec(
        "spread_target",
        (("Value", ""), ("Percent", 0)),
        attrs={"percent": Attr("Percent", "int")},
        labels=1,
    )
)

add(
    Spec(
        "multiregion",
        nulls("Strategy", "Regions"),
        blocks={
            "strategy": Blk("Strategy", "multiregion_strategy"),
            "region": Blk("Regions", "multiregion_region", multi=True, label="Name"),
        },
    )
)

add(
    Spec(
        "multiregion_strategy",
        nulls("MaxParallel", "OnFailure"),
        attrs={
            "max_parallel": Attr("MaxParallel", "int"),
            "on_failure": Attr("OnFailure", "str"),
        },
    )
)

add(
    Spec(
        "multiregion_region",
        (("Name", ""), ("Count", None), ("Datacenters", None), ("NodePool", ""), ("Meta", None)),
        attrs={
            "count": Attr("Count", "int"),
            "datacenters": Attr("Datacenters", "strs"),
            "node_pool": Attr("NodePool", "str"),
            "meta": Attr("Meta", "map"),
        },
        blocks={"meta": Blk("Meta", "map")},
        labels=1,
    )
)

# Nomad 1.9's job `ui` block (api.JobUIConfig); newer than the API yurt reports, so it
# appears in the job only when the file has one.
add(
    Spec(
        "ui",
        (("Description", ""), ("Links", None)),
        attrs={"description": Attr("Description", "str")},
        blocks={"link": Blk("Links", "ui_link", multi=True)},
    )
)

add(
    Spec(
        "ui_link",
        (("Label", ""), ("URL", "")),
        attrs={"label": Attr("Label", "str"), "url": Attr("URL", "str")},
    )
)

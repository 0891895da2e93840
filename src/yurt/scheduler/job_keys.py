"""Job bodies are decoded as Go's encoding/json decodes them: struct field names match
case-insensitively (`count`, `Count`, `COUNT`), map keys (task config, env, meta) are kept
as sent. This folds the field names of a submitted job to Nomad's spelling."""

from __future__ import annotations

from typing import Any

from yurt.api.casing import fold
from yurt.jobspec.schema_job import JOB_SERVER_FIELDS

# What the server sets on a job rather than the user (see JOB_SERVER_FIELDS).
SERVER_FIELDS = frozenset(JOB_SERVER_FIELDS)

# Fields whose values are maps with user-chosen keys: never renamed below them.
_OPAQUE = frozenset(
    {
        "Config",
        "Env",
        "Meta",
        "CanaryMeta",
        "GetterOptions",
        "GetterHeaders",
        "Header",
        "Headers",
        "TaggedAddresses",
        "Labels",
        "Options",
        "Payload",
        "DeviceIDs",
        # A scaling policy's `policy` and `target` are the autoscaler's own documents.
        "Policy",
        "Target",
    }
)

_NAMES = """
ID ParentID Name Namespace Region Type Priority AllAtOnce Datacenters NodePool Constraints
Affinities Spreads TaskGroups Update Multiregion Periodic ParameterizedJob Dispatched
DispatchIdempotencyToken Payload ConsulToken ConsulNamespace VaultToken VaultNamespace
NomadTokenID Status StatusDescription Stable Version SubmitTime CreateIndex ModifyIndex
JobModifyIndex Stop Meta UI Count Tasks Networks Services Volumes RestartPolicy
ReschedulePolicy EphemeralDisk Migrate Scaling Consul MaxClientDisconnect
StopAfterClientDisconnect PreventRescheduleOnLost ShutdownDelay Disconnect LTarget RTarget
Operand Weight Attribute SpreadTarget Value Percent Driver User Lifecycle Config Env
Templates Artifacts Resources RestartPolicy DispatchPayload Leader KillTimeout KillSignal
LogConfig Vault Identity Identities Kind CSIPluginConfig ScalingPolicies VolumeMounts CPU
Cores MemoryMB MemoryMaxMB DiskMB IOPS Devices NUMA Mode Device CIDR IP Hostname MBits DNS
ReservedPorts DynamicPorts Label To HostNetwork PortLabel AddressMode Address Tags
CanaryTags EnableTagOverride Checks CheckRestart Connect Provider OnUpdate Cluster
TaskName Command Args Path Protocol Interval Timeout InitialStatus SuccessBeforePassing
FailuresBeforeCritical FailuresBeforeWarning Method Body Header TLSServerName
TLSSkipVerify Expose GRPCService GRPCUseTLS Limit Grace IgnoreWarnings Attempts Delay
DelayFunction MaxDelay Unlimited Sticky SizeMB MaxParallel HealthCheck MinHealthyTime
HealthyDeadline ProgressDeadline AutoRevert AutoPromote Canary Stagger Enabled Spec
SpecType ProhibitOverlap TimeZone MetaRequired MetaOptional Hook Sidecar GetterSource
GetterOptions GetterHeaders GetterMode GetterInsecure RelativeDest SourcePath DestPath
EmbeddedTmpl ChangeMode ChangeSignal ChangeScript Splay Perms Uid Gid LeftDelim RightDelim
Envvars VaultGrace Wait ErrMissingKey MaxFiles MaxFileSizeMB Disabled Policies Source
ReadOnly AccessMode AttachmentMode MountOptions PerAlloc Destination PropagationMode
SelinuxLabel Min Max Policy Target Type File Audience
""".split()  # noqa: SIM905 - one word list reads best

_BY_FOLD = {fold(n): n for n in _NAMES}
# Spellings kept when sent exactly so but never folded to: Go matches a key against the
# struct it decodes into, and `Periodic.TimeZone` and `TaskSchedule.Cron.Timezone` fold alike.
_KNOWN = frozenset(_NAMES) | {"Timezone"}


def normalize_job_keys(value: Any) -> Any:
    """A copy of `value` with struct field names spelled as Nomad spells them."""
    if isinstance(value, list):
        return [normalize_job_keys(v) for v in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        name = key if key in _KNOWN else _BY_FOLD.get(fold(str(key)), str(key))
        if name in _OPAQUE:
            out[name] = item
        else:
            out[name] = normalize_job_keys(item)
    return out

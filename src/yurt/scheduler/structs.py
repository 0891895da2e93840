"""The scheduler's domain objects as typed dicts: Nomad's API structs, field for field.

The wire objects are dicts (they come from JSON, are stored as JSON and go back out as
JSON), so these are TypedDicts, not classes: no conversion on the hot paths, and mypy strict
checks every key the scheduler reads or writes. Field names are Nomad's (`api/jobs.go`,
`api/tasks.go`, `api/allocations.go`, `api/nodes.go`, `api/deployments.go`,
`api/evaluations.go`); `total=False` because Nomad's JSON may omit any of them, with
`Required` on the keys every stored object of that kind has. A few keys are yurt's own and
say so (`WaitUntilNs`).

A dict enters these types in one place, the snapshot a decision is made on
(`reconcile.ClusterState`), with one `cast` there; it is not checked at run time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Required, TypedDict

# Values that are free-form in Nomad too (task configs, metadata, templates) stay `Any`.
JSONValue = Any


class Packed:
    """A part of a stored allocation that the scheduler's memory keeps in a compact form
    (`yurt.scheduler.alloc_pack`): no decision reads it, the API shows it. `expand` gives
    it back as it was written, from the allocation that holds it."""

    __slots__ = ()

    def expand(self, alloc: Mapping[str, Any]) -> Any:
        raise NotImplementedError


class Port(TypedDict, total=False):
    """api.Port: a static (`ReservedPorts`) or dynamic (`DynamicPorts`) port of a network."""

    Label: str
    Value: int
    To: int
    HostNetwork: str


class AllocatedPort(TypedDict, total=False):
    """structs.AllocatedPortMapping: a port given to an allocation, with its host IP."""

    Label: str
    Value: int
    To: int
    HostIP: str


class NetworkResource(TypedDict, total=False):
    """api.NetworkResource."""

    Mode: str
    Device: str
    CIDR: str
    IP: str
    Hostname: str
    MBits: int
    DNS: JSONValue
    ReservedPorts: list[Port] | None
    DynamicPorts: list[Port] | None


class Resources(TypedDict, total=False):
    """api.Resources: what a task asks for (and, on an allocation, the legacy total)."""

    CPU: int
    Cores: int
    MemoryMB: int
    MemoryMaxMB: int
    DiskMB: int
    IOPS: int
    Networks: list[NetworkResource] | None
    Devices: JSONValue
    NUMA: dict[str, JSONValue] | None


class Constraint(TypedDict, total=False):
    """api.Constraint."""

    LTarget: str
    RTarget: str
    Operand: str


class Affinity(TypedDict, total=False):
    """api.Affinity: a constraint that scores instead of filtering."""

    LTarget: str
    RTarget: str
    Operand: str
    Weight: int


class SpreadTarget(TypedDict, total=False):
    """api.SpreadTarget."""

    Value: str
    Percent: int


class Spread(TypedDict, total=False):
    """api.Spread."""

    Attribute: str
    Weight: int
    SpreadTarget: list[SpreadTarget] | None


class UpdateStrategy(TypedDict, total=False):
    """api.UpdateStrategy (durations in nanoseconds, as Nomad's JSON has them)."""

    Stagger: int
    MaxParallel: int
    HealthCheck: str
    MinHealthyTime: int
    HealthyDeadline: int
    ProgressDeadline: int
    Canary: int
    AutoRevert: bool
    AutoPromote: bool


class ReschedulePolicy(TypedDict, total=False):
    """api.ReschedulePolicy (durations in nanoseconds)."""

    Attempts: int
    Interval: int
    Delay: int
    DelayFunction: str
    MaxDelay: int
    Unlimited: bool


class EphemeralDisk(TypedDict, total=False):
    """api.EphemeralDisk."""

    Sticky: bool
    Migrate: bool
    SizeMB: int


class Service(TypedDict, total=False):
    """api.Service: what the client registers in the catalog."""

    Name: str
    Tags: list[str] | None
    CanaryTags: list[str] | None
    PortLabel: str
    AddressMode: str
    Address: str
    Provider: str
    Checks: list[dict[str, JSONValue]] | None
    Meta: dict[str, str] | None
    CanaryMeta: dict[str, str] | None
    TaggedAddresses: dict[str, str] | None
    EnableTagOverride: bool
    CheckRestart: dict[str, JSONValue] | None
    Connect: dict[str, JSONValue] | None
    OnUpdate: str
    Identity: dict[str, JSONValue] | None
    Cluster: str
    TaskName: str


class Task(TypedDict, total=False):
    """api.Task."""

    Name: Required[str]
    Driver: str
    User: str
    Lifecycle: dict[str, JSONValue] | None
    Config: dict[str, JSONValue] | None
    Constraints: list[Constraint] | None
    Affinities: list[Affinity] | None
    Env: dict[str, str] | None
    Services: list[Service] | None
    Resources: Resources | None
    Meta: dict[str, str] | None
    KillTimeout: int
    LogConfig: dict[str, JSONValue] | None
    Artifacts: list[dict[str, JSONValue]] | None
    Templates: list[dict[str, JSONValue]] | None
    Leader: bool
    Kind: str
    KillSignal: str
    ShutdownDelay: int
    RestartPolicy: dict[str, JSONValue] | None
    DispatchPayload: dict[str, JSONValue] | None
    VolumeMounts: list[dict[str, JSONValue]] | None
    ScalingPolicies: list[dict[str, JSONValue]] | None
    Vault: dict[str, JSONValue] | None
    Consul: dict[str, JSONValue] | None
    Identity: dict[str, JSONValue] | None
    Identities: list[dict[str, JSONValue]] | None
    Actions: list[dict[str, JSONValue]] | None


class TaskGroup(TypedDict, total=False):
    """api.TaskGroup."""

    Name: Required[str]
    Count: int | None
    Constraints: list[Constraint] | None
    Affinities: list[Affinity] | None
    Spreads: list[Spread] | None
    Tasks: list[Task] | None
    Networks: list[NetworkResource] | None
    Services: list[Service] | None
    Volumes: dict[str, JSONValue] | None
    RestartPolicy: dict[str, JSONValue] | None
    ReschedulePolicy: ReschedulePolicy | None
    EphemeralDisk: EphemeralDisk | None
    Update: UpdateStrategy | None
    Migrate: dict[str, JSONValue] | None
    Meta: dict[str, str] | None
    Scaling: dict[str, JSONValue] | None
    Consul: dict[str, JSONValue] | None
    ShutdownDelay: int | None
    StopAfterClientDisconnect: int | None
    MaxClientDisconnect: int | None


class Job(TypedDict, total=False):
    """api.Job as the scheduler stores it (after Nomad's canonicalization)."""

    ID: Required[str]
    Name: str
    Namespace: str
    Region: str
    ParentID: str
    Type: str
    Priority: int
    AllAtOnce: bool
    Datacenters: list[str] | None
    NodePool: str
    Constraints: list[Constraint] | None
    Affinities: list[Affinity] | None
    Spreads: list[Spread] | None
    TaskGroups: list[TaskGroup] | None
    Update: UpdateStrategy | None
    Reschedule: ReschedulePolicy | None
    Migrate: dict[str, JSONValue] | None
    Multiregion: JSONValue
    Periodic: dict[str, JSONValue] | None
    ParameterizedJob: dict[str, JSONValue] | None
    Dispatched: bool
    DispatchIdempotencyToken: str
    Payload: str | None
    Meta: dict[str, str] | None
    ConsulToken: str
    ConsulNamespace: str
    VaultToken: str
    VaultNamespace: str
    NomadTokenID: str
    Stop: bool
    Stable: bool
    Status: str
    StatusDescription: str
    Version: int
    SubmitTime: int
    CreateIndex: int
    ModifyIndex: int
    JobModifyIndex: int


class AllocatedTaskResources(TypedDict, total=False):
    """structs.AllocatedTaskResources, as the API shows it."""

    Cpu: dict[str, JSONValue]
    Memory: dict[str, JSONValue]
    Networks: list[NetworkResource] | None
    Devices: JSONValue


class AllocatedSharedResources(TypedDict, total=False):
    """structs.AllocatedSharedResources: the group's networks, disk and ports."""

    Networks: list[NetworkResource] | None
    DiskMB: int
    # Packed: only in the store's memory (derived from Networks), never on the wire
    Ports: list[AllocatedPort] | Packed | None


class AllocatedResources(TypedDict, total=False):
    """structs.AllocatedResources."""

    Tasks: dict[str, AllocatedTaskResources]
    TaskLifecycles: dict[str, JSONValue]
    Shared: AllocatedSharedResources


class DesiredTransition(TypedDict, total=False):
    """api.DesiredTransition: what the server asks of a running allocation."""

    Migrate: bool | None
    Reschedule: bool | None
    ForceReschedule: bool | None


class RescheduleEvent(TypedDict, total=False):
    """api.RescheduleEvent."""

    RescheduleTime: int
    PrevAllocID: str
    PrevNodeID: str
    Delay: int


class RescheduleTracker(TypedDict, total=False):
    """api.RescheduleTracker."""

    Events: list[RescheduleEvent] | None


class AllocDeploymentStatus(TypedDict, total=False):
    """api.AllocDeploymentStatus."""

    Healthy: bool | None
    Timestamp: str
    Canary: bool
    ModifyIndex: int


class TaskState(TypedDict, total=False):
    """api.TaskState (the fields the scheduler reads; the client owns the rest)."""

    State: str
    Failed: bool
    Restarts: int
    StartedAt: str | None
    FinishedAt: str | None
    Events: list[dict[str, JSONValue]] | None


class Allocation(TypedDict, total=False):
    """api.Allocation."""

    ID: Required[str]
    Namespace: str
    EvalID: str
    Name: str
    NodeID: str
    NodeName: str
    JobID: str
    JobType: str
    JobVersion: int
    Job: Job | None
    TaskGroup: str
    # Packed: only in the store's memory, never on the wire (alloc_pack.wire expands them)
    Resources: Resources | Packed
    SharedResources: Resources | Packed
    TaskResources: dict[str, Resources]
    AllocatedResources: AllocatedResources | None
    Metrics: AllocMetric | Packed | None
    DesiredStatus: str
    DesiredDescription: str
    DesiredTransition: DesiredTransition | None
    ClientStatus: str
    ClientDescription: str
    TaskStates: dict[str, TaskState] | Packed | None
    DeploymentID: str
    DeploymentStatus: AllocDeploymentStatus | None
    FollowupEvalID: str
    RescheduleTracker: RescheduleTracker | None
    NetworkStatus: JSONValue
    PreviousAllocation: str
    NextAllocation: str
    PreemptedAllocations: list[str] | None
    PreemptedByAllocation: str
    CreateIndex: int
    ModifyIndex: int
    AllocModifyIndex: int
    CreateTime: int
    ModifyTime: int


class Evaluation(TypedDict, total=False):
    """api.Evaluation (`WaitUntilNs` is yurt's own: `WaitUntil` in nanoseconds, kept for
    the broker and never sent)."""

    ID: Required[str]
    Namespace: str
    Priority: int
    Type: str
    TriggeredBy: str
    JobID: str
    JobModifyIndex: int
    NodeID: str
    NodeModifyIndex: int
    DeploymentID: str
    Status: str
    StatusDescription: str
    Wait: int
    WaitUntil: str | None
    NextEval: str
    PreviousEval: str
    BlockedEval: str
    RelatedEvals: JSONValue
    FailedTGAllocs: dict[str, AllocMetric] | None
    ClassEligibility: dict[str, bool] | None
    EscapedComputedClass: bool
    QuotaLimitReached: str
    AnnotatePlan: bool
    QueuedAllocations: dict[str, int] | None
    LeaderACL: str
    SnapshotIndex: int
    CreateIndex: int
    ModifyIndex: int
    CreateTime: int
    ModifyTime: int
    WaitUntilNs: int


class DrainStrategy(TypedDict, total=False):
    """api.DrainStrategy."""

    Deadline: int
    IgnoreSystemJobs: bool
    ForceDeadline: str
    StartedAt: str


class Node(TypedDict, total=False):
    """api.Node."""

    ID: Required[str]
    SecretID: str
    Datacenter: str
    Name: str
    HTTPAddr: str
    TLSEnabled: bool
    Attributes: dict[str, str] | None
    NodeResources: dict[str, JSONValue] | None
    ReservedResources: dict[str, JSONValue] | None
    Resources: Resources | None
    Reserved: Resources | None
    Links: dict[str, str] | None
    Meta: dict[str, str] | None
    NodeClass: str
    NodePool: str
    ComputedClass: str
    Drain: bool
    DrainStrategy: DrainStrategy | None
    SchedulingEligibility: str
    Status: str
    StatusDescription: str
    StatusUpdatedAt: int
    Events: list[NodeEvent] | None
    Drivers: dict[str, dict[str, JSONValue]] | None
    HostVolumes: dict[str, JSONValue] | None
    HostNetworks: dict[str, JSONValue] | None
    LastDrain: dict[str, JSONValue] | None
    CSIControllerPlugins: JSONValue
    CSINodePlugins: JSONValue
    CreateIndex: int
    ModifyIndex: int


class DrainSpec(TypedDict):
    """api.DrainSpec: what a drain request asks (the deadline in nanoseconds)."""

    Deadline: int
    IgnoreSystemJobs: bool


class NodeEvent(TypedDict):
    """structs.NodeEvent: one entry of a node's event history."""

    Message: str
    Subsystem: str
    Details: dict[str, str] | None
    Timestamp: str
    CreateIndex: int


class NodeUpdateResponse(TypedDict):
    """structs.NodeUpdateResponse (and the eligibility and drain ones, alike on the wire)."""

    EvalIDs: list[str] | None
    EvalCreateIndex: int
    NodeModifyIndex: int
    Index: int


class DeploymentState(TypedDict, total=False):
    """api.DeploymentState: one task group's progress in a deployment."""

    PlacedCanaries: list[str] | None
    AutoRevert: bool
    AutoPromote: bool
    ProgressDeadline: int
    RequireProgressBy: str | None
    Promoted: bool
    DesiredCanaries: int
    DesiredTotal: int
    PlacedAllocs: int
    HealthyAllocs: int
    UnhealthyAllocs: int


class Deployment(TypedDict, total=False):
    """api.Deployment."""

    ID: Required[str]
    Namespace: str
    JobID: str
    JobVersion: int
    JobModifyIndex: int
    JobSpecModifyIndex: int
    JobCreateIndex: int
    IsMultiregion: bool
    TaskGroups: dict[str, DeploymentState]
    Status: str
    StatusDescription: str
    EvalPriority: int
    CreateIndex: int
    ModifyIndex: int
    CreateTime: int
    ModifyTime: int


class AllocMetric(TypedDict, total=False):
    """api.AllocationMetric: why a placement went where it went, or failed."""

    NodesEvaluated: int
    NodesFiltered: int
    NodesInPool: int
    NodesAvailable: dict[str, int]
    ClassFiltered: dict[str, int] | None
    ConstraintFiltered: dict[str, int] | None
    NodesExhausted: int
    ClassExhausted: dict[str, int] | None
    DimensionExhausted: dict[str, int] | None
    QuotaExhausted: list[str] | None
    ResourcesExhausted: dict[str, JSONValue] | None
    Scores: dict[str, float] | None
    ScoreMetaData: list[dict[str, JSONValue]] | None
    AllocationTime: int
    CoalescedFailures: int


# --- `job plan`'s diff (structs.JobDiff and below): every key always present ------------


class FieldDiff(TypedDict):
    """structs.FieldDiff: one field's values, as text (`Type`: Added, Deleted, Edited, None)."""

    Type: str
    Name: str
    Old: str
    New: str
    Annotations: list[str] | None


class ObjectDiff(TypedDict):
    """structs.ObjectDiff: an object below a job, group or task (a block, a list item);
    task and group diffs start with the same four keys."""

    Type: str
    Name: str
    Fields: list[FieldDiff] | None
    Objects: list[ObjectDiff] | None


class TaskDiff(ObjectDiff):
    """structs.TaskDiff."""

    Annotations: list[str] | None


class TaskGroupDiff(ObjectDiff):
    """structs.TaskGroupDiff, with the scheduler's planned updates by name ("create": 2)."""

    Tasks: list[TaskDiff] | None
    Updates: dict[str, int] | None


class JobDiff(TypedDict):
    """structs.JobDiff."""

    Type: str
    ID: str
    Fields: list[FieldDiff] | None
    Objects: list[ObjectDiff] | None
    TaskGroups: list[TaskGroupDiff] | None


# --- Nomad Variables ---------------------------------------------------------------------


class VariableLock(TypedDict):
    """A variable's lock as stored: durations and the expiry in nanoseconds (yurt's own
    form; the API shows `VariableLockView`)."""

    ID: str
    TTL: int
    LockDelay: int
    Expires: int


class VariableLockView(TypedDict):
    """structs.VariableLock as the API shows it: durations as Go prints them."""

    TTL: str
    LockDelay: str
    ID: str


class Variable(TypedDict, total=False):
    """A stored variable: Nomad's VariableMetadata with the items sealed by the keyring
    (`Data`, under the key `KeyID`)."""

    Namespace: Required[str]
    Path: Required[str]
    CreateIndex: int
    CreateTime: int
    ModifyIndex: int
    ModifyTime: int
    Lock: VariableLock | None
    Data: str
    KeyID: str


class VariableView(TypedDict, total=False):
    """structs.VariableMetadata as the API answers it, with the opened `Items` where the
    answer is a VariableDecrypted."""

    Namespace: Required[str]
    Path: Required[str]
    CreateIndex: Required[int]
    CreateTime: Required[int]
    ModifyIndex: Required[int]
    ModifyTime: Required[int]
    Lock: VariableLockView | None
    Items: dict[str, str] | None


class ServiceRegistration(TypedDict, total=False):
    """structs.ServiceRegistration: a `provider = "nomad"` service instance, as a client
    registers it and the server stores it (with the indexes the server adds)."""

    ID: Required[str]
    ServiceName: Required[str]
    Namespace: Required[str]
    NodeID: Required[str]
    Datacenter: Required[str]
    JobID: Required[str]
    AllocID: Required[str]
    Tags: list[str]
    Address: str
    Port: int
    CreateIndex: int
    ModifyIndex: int


class TaskGroupSummary(TypedDict):
    """structs.TaskGroupSummary: a group's allocations by client status, and the queued."""

    Queued: int
    Complete: int
    Failed: int
    Running: int
    Starting: int
    Lost: int
    Unknown: int


class JobChildrenSummary(TypedDict):
    """structs.JobChildrenSummary: a periodic or parameterized parent's children by status."""

    Pending: int
    Running: int
    Dead: int


class JobSummary(TypedDict):
    """structs.JobSummary."""

    JobID: str
    Namespace: str
    Summary: dict[str, TaskGroupSummary]
    Children: JobChildrenSummary
    CreateIndex: int
    ModifyIndex: int


# --- Nomad's ACL system ------------------------------------------------------------------


class ACLPolicy(TypedDict, total=False):
    """structs.ACLPolicy as stored (`RulesJSON` is added when it is shown)."""

    Name: Required[str]
    Description: str
    Rules: str
    Hash: str
    CreateIndex: int
    ModifyIndex: int


class ACLToken(TypedDict, total=False):
    """structs.ACLToken as stored: only a hash of the secret (`SecretHash`, yurt's own) is
    kept; the views put `SecretID` in its place."""

    AccessorID: Required[str]
    SecretHash: str
    Name: str
    Type: Required[str]
    Policies: list[str] | None
    Roles: JSONValue
    Global: bool
    CreateTime: str
    ExpirationTTL: int
    ExpirationTime: str
    Hash: str
    CreateIndex: int
    ModifyIndex: int


class NodePool(TypedDict):
    """structs.NodePool (yurt.scheduler.node_pools): a built-in, stored or node-named pool."""

    Name: str
    Description: str
    Meta: dict[str, str] | None
    SchedulerConfiguration: JSONValue
    CreateIndex: int
    ModifyIndex: int


class ACLOneTimeToken(TypedDict):
    """structs.OneTimeToken as stored, by the hash of its one-time secret: the caller's
    secret is kept sealed with the one-time secret (`SealedSecret`, yurt's own)."""

    AccessorID: str
    SealedSecret: str
    ExpiresAt: str
    CreateIndex: int
    ModifyIndex: int


class ScalingTarget(TypedDict):
    Namespace: str
    Job: str
    Group: str


class ScalingPolicy(TypedDict):
    """api.ScalingPolicy, made from a group's `scaling` block (yurt.scheduler.api_scaling)."""

    ID: str
    Type: str
    Target: ScalingTarget
    Policy: JSONValue
    Min: int | None
    Max: int | None
    Enabled: bool
    CreateIndex: int
    ModifyIndex: int

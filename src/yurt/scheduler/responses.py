"""What the scheduler's writes answer with: Nomad's `*Response` structs (nomad/structs),
as the operations build them and the HTTP layer sends them unchanged. Typed so that mypy
checks every field name an operation writes; the wire format is the dicts themselves.
No `from __future__ import annotations`: `NotRequired` must be seen when the classes are
made, for `__required_keys__` to be right."""

from typing import NotRequired, TypedDict


class JobRegisterResponse(TypedDict):
    """structs.JobRegisterResponse (register, revert, scale). A scale that changes no count
    answers with the first four fields only, as Nomad's does."""

    EvalID: str
    EvalCreateIndex: int
    JobModifyIndex: int
    Index: int
    Warnings: NotRequired[str]
    LastContact: NotRequired[int]
    KnownLeader: NotRequired[bool]


class JobDeregisterResponse(TypedDict):
    """structs.JobDeregisterResponse."""

    EvalID: str
    EvalCreateIndex: int
    JobModifyIndex: int
    VolumeEvalID: str
    VolumeEvalIndex: int
    Index: int
    LastContact: int
    KnownLeader: bool


class JobStabilityResponse(TypedDict):
    """structs.JobStabilityResponse (`nomad job revert`'s stable marking)."""

    JobModifyIndex: int
    Index: int


class PeriodicForceResponse(TypedDict):
    """structs.PeriodicForceResponse."""

    EvalID: str
    EvalCreateIndex: int
    Index: int


class JobDispatchResponse(TypedDict):
    """structs.JobDispatchResponse."""

    Index: int
    JobCreateIndex: int
    EvalID: str
    EvalCreateIndex: int
    DispatchedJobID: str


class DeploymentUpdateResponse(TypedDict):
    """structs.DeploymentUpdateResponse, every field always present as Go marshals it."""

    EvalID: str
    EvalCreateIndex: int
    DeploymentModifyIndex: int
    RevertedJobVersion: int | None
    Index: int


class NodeHeartbeatResponse(TypedDict):
    """What a node's register and heartbeat answer: the TTL it must heartbeat within; a
    registration (and a heartbeat of a node that was down, which registers it again) adds
    the node's ID and the write's index."""

    HeartbeatTTL: int
    NodeID: NotRequired[str]
    Index: NotRequired[int]


class AllocStopResponse(TypedDict):
    """structs.AllocStopResponse."""

    EvalID: str
    Index: int

"""Task events and task states as Nomad records them (api.TaskEvent, api.TaskState)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from yurt.api.durations import format_go_duration

Obj = dict[str, Any]

RECEIVED = "Received"
SETUP = "Task Setup"
STARTED = "Started"
TERMINATED = "Terminated"
RESTARTING = "Restarting"
NOT_RESTARTING = "Not Restarting"
KILLING = "Killing"
KILLED = "Killed"
DRIVER_FAILURE = "Driver Failure"
RESTART_SIGNAL = "Restart Signal"
SIGNALING = "Signaling"
SIBLING_FAILED = "Sibling Task Failed"
LEADER_DEAD = "Leader Task Dead"
DOWNLOADING = "Downloading Artifacts"
ARTIFACT_FAILED = "Failed Artifact Download"
TEMPLATE = "Template"
SETUP_FAILURE = "Setup Failure"

_MAX_EVENTS = 10  # Nomad keeps the last 10 events of a task


def rfc3339(ts: float | None = None) -> str:
    moment = datetime.fromtimestamp(time.time() if ts is None else ts, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event(kind: str, *, oom_killed: bool = False, **fields: Any) -> Obj:
    """A task event; `oom_killed` (Terminated) goes into its details, as Nomad keeps it."""
    ev: Obj = {
        "Type": kind,
        "Time": time.time_ns(),
        "Message": "",
        "DisplayMessage": "",
        "Details": {},
        "FailsTask": False,
        "RestartReason": "",
        "SetupError": "",
        "DriverError": "",
        "DriverMessage": "",
        "ExitCode": 0,
        "Signal": 0,
        "KillReason": "",
        "KillTimeout": 0,
        "KillError": "",
        "StartDelay": 0,
        "DownloadError": "",
        "ValidationError": "",
        "DiskLimit": 0,
        "FailedSibling": "",
        "VaultError": "",
        "TaskSignalReason": "",
        "TaskSignal": "",
        "GenericSource": "",
    }
    ev.update(fields)
    ev["DisplayMessage"] = _display(ev)
    details = _details(ev)
    if oom_killed:
        details["oom_killed"] = "true"
    ev["Details"] = {k: str(v) for k, v in details.items()}
    return ev


def _display(ev: Obj) -> str:
    kind = ev["Type"]
    if kind == RECEIVED:
        return "Task received by client"
    if kind == SETUP:
        return str(ev["Message"])
    if kind == STARTED:
        return "Task started by client"
    if kind == TERMINATED:
        text = f"Exit Code: {ev['ExitCode']}"
        if ev["Signal"]:
            text += f", Signal: {ev['Signal']}"
        if ev["Message"]:
            # Go's %q, as Nomad formats it
            text += f", Exit Message: {json.dumps(ev['Message'])}"
        return text
    if kind == RESTARTING:
        reason = ev["RestartReason"] or "Restart within policy"
        if ev["StartDelay"]:
            return f"{reason} - Task restarting in {format_go_duration(ev['StartDelay'])}"
        return reason
    if kind == NOT_RESTARTING:
        return str(ev["RestartReason"])
    if kind == KILLING:
        return (
            f"Sent interrupt. Waiting {format_go_duration(ev['KillTimeout'])} before force killing"
        )
    if kind == KILLED:
        return (
            f"Task killed with error: {ev['KillError']}"
            if ev["KillError"]
            else ("Task successfully killed")
        )
    if kind == DRIVER_FAILURE:
        return str(ev["DriverError"] or "Failed to start task")
    if kind == RESTART_SIGNAL:
        return str(ev["RestartReason"] or "User requested restart")
    if kind == SIGNALING:
        return f"Task being sent signal {ev['TaskSignal']}: {ev['TaskSignalReason']}".rstrip(": ")
    if kind == SIBLING_FAILED:
        return f"Task's sibling {ev['FailedSibling']!r} failed"
    if kind == LEADER_DEAD:
        return "Leader Task in Group dead"
    if kind == DOWNLOADING:
        return "Client is downloading artifacts"
    if kind == ARTIFACT_FAILED:
        return str(ev["DownloadError"])
    if kind == SETUP_FAILURE:
        return str(ev["SetupError"])
    return str(ev["Message"])


def _details(ev: Obj) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, name in (
        ("ExitCode", "exit_code"),
        ("Signal", "signal"),
        ("RestartReason", "restart_reason"),
        ("KillTimeout", "kill_timeout"),
        ("DriverError", "driver_error"),
        ("StartDelay", "start_delay"),
        ("FailedSibling", "failed_sibling"),
        ("KillError", "kill_error"),
        ("SetupError", "setup_error"),
        ("DownloadError", "download_error"),
        ("Message", "message"),
    ):
        if ev.get(key):
            out[name] = ev[key]
    if ev["Type"] == TERMINATED:
        out.setdefault("exit_code", 0)
        out.setdefault("signal", 0)
    if ev.get("FailsTask"):
        out["fails_task"] = "true"
    return out


@dataclass
class TaskState:
    state: str = "pending"  # pending | running | dead
    failed: bool = False
    restarts: int = 0
    started_at: float | None = None
    finished_at: float | None = None
    last_restart: float | None = None
    events: list[Obj] = field(default_factory=list)

    def add(self, ev: Obj) -> None:
        self.events.append(ev)
        del self.events[:-_MAX_EVENTS]

    def to_json(self) -> Obj:
        return {
            "State": self.state,
            "Failed": self.failed,
            "Restarts": self.restarts,
            "LastRestart": rfc3339(self.last_restart) if self.last_restart else None,
            "StartedAt": rfc3339(self.started_at) if self.started_at else None,
            "FinishedAt": rfc3339(self.finished_at) if self.finished_at else None,
            "Events": list(self.events),
            "TaskHandle": None,
        }

    def persist(self) -> Obj:
        return {
            "state": self.state,
            "failed": self.failed,
            "restarts": self.restarts,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "last_restart": self.last_restart,
            "events": self.events,
        }

    @classmethod
    def restore(cls, data: Obj) -> TaskState:
        return cls(
            state=str(data.get("state") or "pending"),
            failed=bool(data.get("failed")),
            restarts=int(data.get("restarts") or 0),
            started_at=data.get("started_at"),
            finished_at=data.get("finished_at"),
            last_restart=data.get("last_restart"),
            events=list(data.get("events") or []),
        )

"""Nomad's defaults, applied as a Nomad 1.7 server returns a job after register.

The order and rules follow the API's Canonicalize methods (api/jobs.go, api/tasks.go,
api/services.go, api/resources.go) and the server's additions (Datacenters ["*"],
NodePool "default", null strings and numbers of the server's plain-value fields as ""/0).
"""

from __future__ import annotations

import copy
import posixpath
from typing import Any

from yurt.api.durations import HOUR, MINUTE, SECOND
from yurt.jobspec import canonical_blocks
from yurt.jobspec.canonical_blocks import default as _default
from yurt.jobspec.canonical_blocks import fill as _fill
from yurt.jobspec.canonical_blocks import merge as _merge
from yurt.jobspec.typecheck import type_errors

Job = dict[str, Any]


_BOOLS = ("AutoRevert", "AutoPromote")


def default_update() -> dict[str, Any]:
    return {
        "Stagger": 30 * SECOND,
        "MaxParallel": 1,
        "HealthCheck": "checks",
        "MinHealthyTime": 10 * SECOND,
        "HealthyDeadline": 5 * MINUTE,
        "ProgressDeadline": 10 * MINUTE,
        "Canary": 0,
        "AutoRevert": False,
        "AutoPromote": False,
    }


def default_reschedule(job_type: str) -> dict[str, Any]:
    if job_type == "service":
        return {
            "Attempts": 0,
            "Interval": 0,
            "Delay": 30 * SECOND,
            "DelayFunction": "exponential",
            "MaxDelay": HOUR,
            "Unlimited": True,
        }
    if job_type == "batch":
        return {
            "Attempts": 1,
            "Interval": 24 * HOUR,
            "Delay": 5 * SECOND,
            "DelayFunction": "constant",
            "MaxDelay": 0,
            "Unlimited": False,
        }
    return {
        "Attempts": 0,
        "Interval": 0,
        "Delay": 0,
        "DelayFunction": "",
        "MaxDelay": 0,
        "Unlimited": False,
    }


def default_restart(job_type: str) -> dict[str, Any]:
    if job_type in ("service", "system"):
        return {
            "Interval": 30 * MINUTE,
            "Attempts": 2,
            "Delay": 15 * SECOND,
            "Mode": "fail",
            "RenderTemplates": False,
        }
    return {
        "Interval": 24 * HOUR,
        "Attempts": 3,
        "Delay": 15 * SECOND,
        "Mode": "fail",
        "RenderTemplates": False,
    }


def default_migrate() -> dict[str, Any]:
    return {
        "MaxParallel": 1,
        "HealthCheck": "checks",
        "MinHealthyTime": 10 * SECOND,
        "HealthyDeadline": 5 * MINUTE,
    }


def _update_empty(u: dict[str, Any]) -> bool:
    return not any(v not in (None, 0, "", False) for v in u.values())


def canonicalize(job: Job) -> Job:
    """A new job dict with Nomad's defaults applied; applying it twice changes nothing.

    A job with fields of the wrong JSON type comes back as an unchanged copy, so that
    `validate` can name those fields instead of this failing halfway."""
    if type_errors(job):
        return copy.deepcopy(job) if isinstance(job, dict) else job
    j = _fill(copy.deepcopy(job), "job")
    _default(j, "ID", "")
    _default(j, "Name", j["ID"])
    _default(j, "ParentID", "")
    _default(j, "Namespace", "default")
    _default(j, "Priority", 50)
    _default(j, "Stop", False)
    _default(j, "Region", "global")
    if not j.get("NodePool"):
        j["NodePool"] = "default"
    _default(j, "Type", "service")
    _default(j, "AllAtOnce", False)
    for key in (
        "ConsulToken",
        "ConsulNamespace",
        "VaultToken",
        "VaultNamespace",
        "NomadTokenID",
        "Status",
        "StatusDescription",
        "DispatchIdempotencyToken",
    ):
        _default(j, key, "")
    _default(j, "Stable", False)
    for key in ("Version", "CreateIndex", "ModifyIndex", "JobModifyIndex", "SubmitTime"):
        _default(j, key, 0)
    if not j.get("Datacenters"):
        j["Datacenters"] = ["*"]
    job_type = j["Type"]

    if j.get("Periodic") is not None:
        p = _fill(j["Periodic"], "periodic")
        _default(p, "Enabled", True)
        _default(p, "Spec", "")
        _default(p, "SpecType", "cron")
        _default(p, "ProhibitOverlap", False)
        if not p.get("TimeZone"):
            p["TimeZone"] = "UTC"
        j["Periodic"] = p
    if j.get("ParameterizedJob") is not None:
        j["ParameterizedJob"] = _fill(j["ParameterizedJob"], "parameterized")
    if j.get("Update") is not None:
        j["Update"] = _merge(default_update(), j["Update"])
    elif job_type == "service":
        j["Update"] = default_update()
    for spread in j.get("Spreads") or []:
        _spread(spread)
    for aff in j.get("Affinities") or []:
        _default(aff, "Weight", 50)
    for c in j.get("Constraints") or []:
        _constraint(c)

    if j.get("Multiregion") is not None:
        j["Multiregion"] = canonical_blocks.multiregion(j["Multiregion"])
    j["TaskGroups"] = [_group(_fill(g, "group"), j) for g in j.get("TaskGroups") or []]
    if j["Update"] is None:
        # The server's Job.Update is a plain struct, not a pointer: a job without an
        # update strategy (batch, system) reads back with its zero value.
        j["Update"] = {
            k: ("" if k == "HealthCheck" else False if k in _BOOLS else 0) for k in default_update()
        }
    return j


def _constraint(c: dict[str, Any]) -> None:
    for key in ("LTarget", "RTarget", "Operand"):
        _default(c, key, "")


def _spread(s: dict[str, Any]) -> None:
    _default(s, "Weight", 50)
    _default(s, "Attribute", "")


def _group(g: dict[str, Any], job: Job) -> dict[str, Any]:
    job_type = job["Type"]
    _default(g, "Name", "")
    if g.get("Count") is None:
        scaling = g.get("Scaling") or {}
        g["Count"] = scaling.get("Min", 1) if isinstance(scaling, dict) else 1
    if g.get("EphemeralDisk") is None:
        g["EphemeralDisk"] = {"Sticky": False, "Migrate": False, "SizeMB": 300}
    else:
        d = _fill(g["EphemeralDisk"], "ephemeral_disk")
        _default(d, "Sticky", False)
        _default(d, "Migrate", False)
        _default(d, "SizeMB", 300)
        g["EphemeralDisk"] = d
    consul = _fill(g.get("Consul") or {}, "consul")
    if not consul["Namespace"] and job.get("ConsulNamespace"):
        consul["Namespace"] = job["ConsulNamespace"]
    if not consul["Cluster"]:
        consul["Cluster"] = "default"
    g["Consul"] = consul

    ju, gu = job.get("Update"), g.get("Update")
    if ju is not None and gu is not None:
        g["Update"] = _merge(ju, gu)
    elif ju is not None and not _update_empty(ju):
        g["Update"] = copy.deepcopy(ju)
    if g.get("Update") is not None:
        g["Update"] = _merge(default_update(), g["Update"])

    jr, gr = job.get("Reschedule"), g.get("ReschedulePolicy")
    if jr is not None and gr is not None:
        g["ReschedulePolicy"] = _merge(jr, gr)
    elif jr is not None:
        g["ReschedulePolicy"] = copy.deepcopy(jr)
    if g.get("ReschedulePolicy") is None and job_type != "system":
        g["ReschedulePolicy"] = default_reschedule(job_type)
    if g.get("ReschedulePolicy") is not None:
        g["ReschedulePolicy"] = _merge(default_reschedule(job_type), g["ReschedulePolicy"])

    jm, gm = job.get("Migrate"), g.get("Migrate")
    if jm is not None and gm is not None:
        g["Migrate"] = _merge(jm, gm)
    elif jm is not None:
        g["Migrate"] = copy.deepcopy(jm)
    if g.get("Migrate") is None and job_type == "service":
        g["Migrate"] = {}
    if g.get("Migrate") is not None:
        g["Migrate"] = (
            _merge(default_migrate(), g["Migrate"])
            if job_type == "service"
            else _merge(_fill({}, "migrate"), g["Migrate"])
        )

    g["RestartPolicy"] = _merge(default_restart(job_type), g.get("RestartPolicy"))

    g["Tasks"] = [_task(_fill(t, "task"), g, job) for t in g.get("Tasks") or []]
    for spread in g.get("Spreads") or []:
        _spread(spread)
    for aff in g.get("Affinities") or []:
        _default(aff, "Weight", 50)
    for c in g.get("Constraints") or []:
        _constraint(c)
    g["Networks"] = [_network(n) for n in g.get("Networks") or []] or None
    g["Services"] = [_service(s, None, g, job) for s in g.get("Services") or []] or None
    if g.get("Volumes"):
        g["Volumes"] = {k: _fill(v, "volume") for k, v in g["Volumes"].items()}
    if g.get("Scaling") is not None:
        g["Scaling"] = canonical_blocks.scaling_policy(g["Scaling"], g["Count"])
    if g.get("Disconnect") is not None:
        g["Disconnect"] = canonical_blocks.disconnect(g["Disconnect"])
    return g


def _default_resources() -> dict[str, Any]:
    """DefaultResources(): what a sidecar task without a resources block gets."""
    r = _fill({}, "resources")
    r.update({"CPU": 100, "Cores": 0, "MemoryMB": 300, "MemoryMaxMB": 0, "DiskMB": 0, "IOPS": 0})
    return r


def _default_logs() -> dict[str, Any]:
    return {"MaxFiles": 10, "MaxFileSizeMB": 10, "Disabled": False}


def _network(n: dict[str, Any]) -> dict[str, Any]:
    n = _fill(n, "network")
    _default(n, "MBits", 0)
    for key in ("ReservedPorts", "DynamicPorts"):
        ports = n.get(key) or None
        if ports:
            ports = [_fill(p, "port") for p in ports]
            for p in ports:
                if not p["HostNetwork"]:
                    p["HostNetwork"] = "default"
        n[key] = ports
    return n


def _task(t: dict[str, Any], g: dict[str, Any], job: Job) -> dict[str, Any]:
    r = _fill(t.get("Resources") or {}, "resources")
    if r.get("Cores") is None:
        r["Cores"] = 0
        _default(r, "CPU", 100)
    _default(r, "CPU", 0)
    _default(r, "MemoryMB", 300)
    for key in ("MemoryMaxMB", "DiskMB", "IOPS"):
        _default(r, key, 0)
    for d in r.get("Devices") or []:
        _default(d, "Count", 1)
    if r.get("Networks"):
        r["Networks"] = [_network(n) for n in r["Networks"]]
    t["Resources"] = r
    _default(t, "KillTimeout", 5 * SECOND)
    logs = _fill(t.get("LogConfig") or {}, "logs")
    _default(logs, "MaxFiles", 10)
    _default(logs, "MaxFileSizeMB", 10)
    _default(logs, "Disabled", False)
    # The server's LogConfig has no "Enabled" (an API-only compatibility field).
    logs.pop("Enabled", None)
    t["LogConfig"] = logs
    t["Artifacts"] = [_artifact(a) for a in t.get("Artifacts") or []] or None
    if t.get("Vault") is not None:
        v = _fill(t["Vault"], "vault")
        _default(v, "Env", True)
        _default(v, "DisableFile", False)
        _default(v, "Namespace", "")
        if not v["Cluster"]:
            v["Cluster"] = "default"
        _default(v, "Role", "")
        _default(v, "ChangeMode", "restart")
        # The server upper-cases the signal (structs.Vault.Canonicalize).
        v["ChangeSignal"] = (v.get("ChangeSignal") or "SIGHUP").upper()
        _default(v, "AllowTokenExpiration", False)
        t["Vault"] = v
    if t.get("Consul") is not None:
        consul = _fill(t["Consul"], "consul")
        if not consul["Cluster"]:
            consul["Cluster"] = "default"
        t["Consul"] = consul
    if t.get("CSIPluginConfig") is not None:
        t["CSIPluginConfig"] = canonical_blocks.csi_plugin(t["CSIPluginConfig"])
    t["Templates"] = [_template(x) for x in t.get("Templates") or []] or None
    t["Services"] = [_service(s, t, g, job) for s in t.get("Services") or []] or None
    for aff in t.get("Affinities") or []:
        _default(aff, "Weight", 50)
    for c in t.get("Constraints") or []:
        _constraint(c)
    for vm in t.get("VolumeMounts") or []:
        _default(vm, "PropagationMode", "private")
        _default(vm, "ReadOnly", False)
        _default(vm, "Volume", "")
        _default(vm, "Destination", "")
    lc = t.get("Lifecycle")
    if lc is not None and not lc.get("Hook"):
        t["Lifecycle"] = None
    if t.get("RestartPolicy") is None:
        t["RestartPolicy"] = copy.deepcopy(g["RestartPolicy"])
    else:
        t["RestartPolicy"] = _merge(g["RestartPolicy"], t["RestartPolicy"])
    return t


def _artifact(a: dict[str, Any]) -> dict[str, Any]:
    a = _fill(a, "artifact")
    _default(a, "GetterSource", "")
    if not a.get("GetterMode"):
        a["GetterMode"] = "any"
    _default(a, "GetterInsecure", False)
    if a.get("RelativeDest") is None:
        if a["GetterMode"] == "file":
            a["RelativeDest"] = "local/" + posixpath.basename(a["GetterSource"].split("?")[0])
        else:
            a["RelativeDest"] = "local/"
    if not a.get("GetterOptions"):
        a["GetterOptions"] = None
    if not a.get("GetterHeaders"):
        a["GetterHeaders"] = None
    return a


def _template(t: dict[str, Any]) -> dict[str, Any]:
    t = _fill(t, "template")
    _default(t, "SourcePath", "")
    _default(t, "DestPath", "")
    _default(t, "EmbeddedTmpl", "")
    _default(t, "ChangeMode", "restart")
    if t.get("ChangeSignal") is None:
        t["ChangeSignal"] = "SIGHUP" if t["ChangeMode"] == "signal" else ""
    else:
        t["ChangeSignal"] = t["ChangeSignal"].upper()
    if t.get("ChangeScript") is not None:
        cs = t["ChangeScript"]
        _default(cs, "Command", "")
        _default(cs, "Args", [])
        _default(cs, "Timeout", 5 * SECOND)
        _default(cs, "FailOnError", False)
    _default(t, "Splay", 5 * SECOND)
    _default(t, "Perms", "0644")
    _default(t, "LeftDelim", "{{")
    _default(t, "RightDelim", "}}")
    _default(t, "Envvars", False)
    _default(t, "VaultGrace", 0)
    _default(t, "ErrMissingKey", False)
    return t


def _service(
    s: dict[str, Any], task: dict[str, Any] | None, g: dict[str, Any], job: Job
) -> dict[str, Any]:
    s = _fill(s, "service")
    if not s["Name"]:
        if task is not None:
            s["Name"] = f"{job['Name']}-{g['Name']}-{task['Name']}"
        else:
            s["Name"] = f"{job['Name']}-{g['Name']}"
    if not s["AddressMode"]:
        s["AddressMode"] = "auto"
    if not s["OnUpdate"]:
        s["OnUpdate"] = "require_healthy"
    if not s["Provider"]:
        s["Provider"] = "consul"
    if not s["Cluster"]:
        s["Cluster"] = "default"
    for key in ("Meta", "CanaryMeta", "TaggedAddresses"):
        if not s.get(key):
            s[key] = None
    if s.get("Weights") is not None:
        s["Weights"] = canonical_blocks.weights(s["Weights"])
    if s.get("Connect") is not None:
        s["Connect"] = canonical_blocks.connect(s["Connect"], _default_resources(), _default_logs())
    checks = []
    for c in s.get("Checks") or []:
        c = _fill(c, "check")
        merged = _merge_check_restart(s.get("CheckRestart"), c.get("CheckRestart"))
        if merged is not None:
            _default(merged, "Grace", SECOND)
        c["CheckRestart"] = merged
        for key in ("SuccessBeforePassing", "FailuresBeforeCritical", "FailuresBeforeWarning"):
            c[key] = max(0, c.get(key) or 0)
        if not c["OnUpdate"]:
            c["OnUpdate"] = s["OnUpdate"]
        checks.append(c)
    s["Checks"] = checks or None
    return s


def _merge_check_restart(
    service: dict[str, Any] | None, check: dict[str, Any] | None
) -> dict[str, Any] | None:
    """CheckRestart.Merge: the check's own limit (> 0), grace (set) and ignore_warnings
    (true) override the service's."""
    if service is None:
        return copy.deepcopy(check)
    merged = _fill(copy.deepcopy(service), "check_restart")
    if check is None:
        return merged
    if (check.get("Limit") or 0) > 0:
        merged["Limit"] = check["Limit"]
    if check.get("Grace") is not None:
        merged["Grace"] = check["Grace"]
    if check.get("IgnoreWarnings"):
        merged["IgnoreWarnings"] = True
    return merged

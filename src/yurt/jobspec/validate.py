# ruff: noqa: E501  (messages are kept whole on one line so they can be grepped)
"""The server-side checks of a job (what `nomad job validate` and register reject).

Each error carries the JSON path of the field it is about (`TaskGroups[0].Tasks[1].Driver`)
so that the CLI can point at the line of the job file it came from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from yurt.jobspec import validate_blocks
from yurt.jobspec.canonical import canonicalize
from yurt.jobspec.typecheck import type_errors

JOB_TYPES = ("service", "batch", "system", "sysbatch")
CHECK_TYPES = ("http", "tcp", "script", "grpc")
_COMPARISONS = ("<", "<=", ">", ">=", "version", "semver")
_SET_CONTAINS = ("set_contains", "set_contains_all", "set_contains_any")
_EQUALITIES = ("=", "==", "is", "!=", "not")
_OTHERS = ("regexp", "distinct_hosts", "distinct_property", "is_set", "is_not_set")
OPERANDS = frozenset((*_EQUALITIES, *_COMPARISONS, *_SET_CONTAINS, *_OTHERS))
# The operands refused without an RTarget (the equalities may compare with "").
_NEEDS_RTARGET = frozenset((*_COMPARISONS, *_SET_CONTAINS))
MIN_CHECK_INTERVAL = 1_000_000_000
MIN_CHECK_TIMEOUT = 1_000_000_000
_SERVICE_NAME_RE = re.compile(r"^(?i:[a-z0-9]|[a-z0-9][a-z0-9\-]{0,61}[a-z0-9])$")
_CRON_FIELD = re.compile(r"^[\d*/,\-?LW#A-Za-z]+$")


@dataclass(frozen=True)
class ValidationError:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


@dataclass
class ValidationResult:
    errors: list[ValidationError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def error_text(self) -> str:
        """Nomad's multierror wording of all errors, or ''."""
        if not self.errors:
            return ""
        n = len(self.errors)
        head = "1 error occurred:" if n == 1 else f"{n} errors occurred:"
        return head + "".join(f"\n\t* {e.message}" for e in self.errors) + "\n\n"


class _Checker:
    def __init__(self) -> None:
        self.result = ValidationResult()

    def err(self, path: str, message: str) -> None:
        self.result.errors.append(ValidationError(path, message))

    def warn(self, message: str) -> None:
        self.result.warnings.append(message)


def validate(job: dict[str, Any]) -> ValidationResult:
    """Check a job (canonicalized first, as the server does) and return every problem."""
    c = _Checker()
    problems = type_errors(job)
    if problems:
        for path, message in problems:
            c.err(path, f"{path}: {message}" if path else message)
        return c.result
    try:
        j = canonicalize(job)
    except (TypeError, AttributeError, KeyError, ValueError) as exc:
        c.err("", f"malformed job: {exc}")
        return c.result
    try:
        _job(c, j)
        for path, message in validate_blocks.problems(j):
            c.err(path, message)
    except (TypeError, AttributeError, KeyError, ValueError) as exc:
        # A field of the wrong JSON type (e.g. "Count": "two") stops the checks here.
        c.err("", f"malformed job: a field has the wrong type ({exc})")
    return c.result


def _job(c: _Checker, j: dict[str, Any]) -> None:
    if not j["Region"]:
        c.err("Region", "Missing job region")
    job_id = j["ID"]
    if not job_id:
        c.err("ID", "Missing job ID")
    elif " " in job_id:
        c.err("ID", "Job ID contains a space")
    elif "\x00" in job_id:
        c.err("ID", "Job ID contains a null character")
    if not j["Name"]:
        c.err("Name", "Missing job name")
    elif "\x00" in j["Name"]:
        c.err("Name", "Job Name contains a null character")
    if not j["Namespace"]:
        c.err("Namespace", "Job must be in a namespace")
    job_type = j["Type"]
    if job_type not in JOB_TYPES:
        c.err("Type", f'Invalid job type: "{job_type}"; expected one of {", ".join(JOB_TYPES)}')
    if not 1 <= j["Priority"] <= 100:
        c.err("Priority", f"Job priority must be between [1, 100], got {j['Priority']}")
    for i, dc in enumerate(j["Datacenters"]):
        if not dc:
            c.err(f"Datacenters[{i}]", "Job datacenter must be non-empty string")
    groups = j["TaskGroups"]
    if not groups:
        c.err("TaskGroups", "Missing job task groups")
    for i, con in enumerate(j.get("Constraints") or []):
        _constraint(c, f"Constraints[{i}]", con)
    for i, sp in enumerate(j.get("Spreads") or []):
        _spread(c, f"Spreads[{i}]", sp)
    seen: dict[str, int] = {}
    for gi, g in enumerate(groups):
        name = g["Name"]
        if name in seen:
            c.err(
                f"TaskGroups[{gi}].Name",
                f'Job task group {gi + 1} redefines "{name}" from group {seen[name] + 1}',
            )
        else:
            seen[name] = gi
        _group(c, f"TaskGroups[{gi}]", g, j)
    periodic = j.get("Periodic")
    if periodic is not None and periodic.get("Enabled"):
        if job_type != "batch":
            c.err("Periodic", f'Periodic can only be used with "batch" scheduler, not "{job_type}"')
        specs = [("Periodic.Spec", periodic["Spec"])] if periodic["Spec"] else []
        specs += [(f"Periodic.Specs[{i}]", s) for i, s in enumerate(periodic.get("Specs") or [])]
        if not specs:
            c.err("Periodic", "Periodic job needs a cron spec (cron or crons)")
        if periodic["Spec"] and periodic.get("Specs"):
            c.err("Periodic.Specs", "Only one of cron or crons may be set")
        for path, spec in specs:
            problem = _cron_problem(spec)
            if problem:
                c.err(path, f'Invalid cron spec "{spec}": {problem}')
    if j.get("ParameterizedJob") is not None:
        if job_type != "batch":
            c.err(
                "ParameterizedJob",
                f'Parameterized job can only be used with "batch" scheduler, not "{job_type}"',
            )
        payload = j["ParameterizedJob"].get("Payload") or ""
        if payload not in ("", "optional", "required", "forbidden"):
            c.err(
                "ParameterizedJob.Payload",
                f'Unknown payload requirement: "{payload}"; use optional, required or forbidden',
            )
    if job_type in ("system", "sysbatch") and j.get("Update") and not _is_empty_update(j["Update"]):
        c.warn(f'The update block is ignored for "{job_type}" jobs')


def _is_empty_update(u: dict[str, Any]) -> bool:
    return not any(v not in (None, 0, "", False) for v in u.values())


def _cron_problem(spec: str) -> str:
    if not spec:
        return "empty"
    if spec.startswith("@"):
        ok = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
        return "" if spec in ok else "unknown descriptor"
    fields = spec.split()
    if not 5 <= len(fields) <= 7:
        return f"expected 5 to 7 fields, got {len(fields)}"
    bad = [f for f in fields if not _CRON_FIELD.match(f)]
    return f'invalid field "{bad[0]}"' if bad else ""


def _constraint(c: _Checker, path: str, con: dict[str, Any]) -> None:
    op = con.get("Operand") or ""
    if op not in OPERANDS:
        c.err(f"{path}.Operand", f'Unknown constraint type "{op}"')
        return
    if op not in ("distinct_hosts",) and not con.get("LTarget") and op != "distinct_property":
        c.err(f"{path}.LTarget", "No LTarget provided but is required by constraint")
    if op in ("regexp",) and con.get("RTarget"):
        try:
            re.compile(con["RTarget"])
        except re.error as exc:
            c.err(f"{path}.RTarget", f"Regular expression failed to compile: {exc}")
    if op in _NEEDS_RTARGET and not con.get("RTarget"):
        c.err(f"{path}.RTarget", f'Operator "{op}" requires an RTarget')


def _spread(c: _Checker, path: str, sp: dict[str, Any]) -> None:
    if not sp.get("Attribute"):
        c.err(f"{path}.Attribute", "Missing spread attribute")
    weight = sp.get("Weight") or 0
    if not 0 < weight <= 100:
        c.err(
            f"{path}.Weight",
            f"Spread block must have a positive weight from 0 to 100, got {weight}",
        )
    total = 0
    for i, t in enumerate(sp.get("SpreadTarget") or []):
        pct = t.get("Percent") or 0
        if not 0 <= pct <= 100:
            c.err(
                f"{path}.SpreadTarget[{i}].Percent",
                f"Spread target percentage for value {t.get('Value')!r} must be between 0 and 100",
            )
        total += pct
    if total > 100:
        c.err(
            f"{path}.SpreadTarget",
            f"Sum of spread target percentages must not be greater than 100%; got {total}%",
        )


def _group(c: _Checker, path: str, g: dict[str, Any], j: dict[str, Any]) -> None:
    gname = g["Name"]
    if not gname:
        c.err(f"{path}.Name", "Missing task group name")
    if g["Count"] < 0:
        c.err(f"{path}.Count", f'Task group "{gname}": count can\'t be negative')
    if j["Type"] in ("system", "sysbatch") and g["Count"] > 1:
        c.err(
            f"{path}.Count",
            f'Task group "{gname}": a {j["Type"]} job runs one allocation per node; count must be 0 or 1',
        )
    tasks = g["Tasks"] or []
    if not tasks:
        c.err(f"{path}.Tasks", f'Task group "{gname}": missing tasks')
    rp = g["RestartPolicy"]
    if rp["Mode"] not in ("delay", "fail"):
        c.err(
            f"{path}.RestartPolicy.Mode",
            f'Unsupported restart mode: "{rp["Mode"]}"; use delay or fail',
        )
    if rp["Attempts"] < 0:
        c.err(f"{path}.RestartPolicy.Attempts", "restart attempts can't be negative")
    if rp["Attempts"] > 0 and rp["Interval"] and rp["Delay"] * rp["Attempts"] > rp["Interval"]:
        c.err(
            f"{path}.RestartPolicy",
            f'Task group "{gname}": Nomad can\'t restart the task {rp["Attempts"]} times with a '
            f"delay of {rp['Delay'] // 1_000_000_000}s within an interval of "
            f"{rp['Interval'] // 1_000_000_000}s",
        )
    rs = g.get("ReschedulePolicy")
    if rs is not None and rs.get("DelayFunction") not in (
        "",
        "constant",
        "exponential",
        "fibonacci",
    ):
        c.err(
            f"{path}.ReschedulePolicy.DelayFunction",
            f'Invalid delay function "{rs["DelayFunction"]}"; use constant, exponential or fibonacci',
        )
    u = g.get("Update")
    if u is not None and j["Type"] == "service":
        if u["HealthCheck"] not in ("checks", "task_states", "manual"):
            c.err(f"{path}.Update.HealthCheck", f'Invalid health check given: "{u["HealthCheck"]}"')
        if u["MaxParallel"] < 0:
            c.err(f"{path}.Update.MaxParallel", "Max parallel can not be less than zero")
        if u["HealthyDeadline"] <= u["MinHealthyTime"]:
            c.err(
                f"{path}.Update.MinHealthyTime",
                "Minimum healthy time must be less than healthy deadline",
            )
        if u["ProgressDeadline"] and u["ProgressDeadline"] < u["HealthyDeadline"]:
            c.err(
                f"{path}.Update.ProgressDeadline",
                "Healthy deadline must be less than progress deadline",
            )
    if g["EphemeralDisk"]["SizeMB"] < 0:
        c.err(f"{path}.EphemeralDisk.SizeMB", "Ephemeral disk size can't be negative")
    for i, con in enumerate(g.get("Constraints") or []):
        _constraint(c, f"{path}.Constraints[{i}]", con)
    for i, sp in enumerate(g.get("Spreads") or []):
        _spread(c, f"{path}.Spreads[{i}]", sp)

    ports = _ports(c, path, g.get("Networks") or [], f'group "{gname}"')
    for t in tasks:
        for net in (t.get("Resources") or {}).get("Networks") or []:
            for p in (net.get("ReservedPorts") or []) + (net.get("DynamicPorts") or []):
                ports.add(p.get("Label", ""))

    task_names: dict[str, int] = {}
    leaders = 0
    for ti, t in enumerate(tasks):
        tpath = f"{path}.Tasks[{ti}]"
        name = t["Name"]
        if name in task_names:
            c.err(
                f"{tpath}.Name",
                f'Task {ti + 1} redefines "{name}" from task {task_names[name] + 1} in group "{gname}"',
            )
        else:
            task_names[name] = ti
        if t.get("Leader"):
            leaders += 1
        _task(c, tpath, t, g, j, ports)
    if leaders > 1:
        c.err(f"{path}.Tasks", f'Task group "{gname}": only one task may be marked as leader')

    services: dict[str, int] = {}
    for si, s in enumerate(g.get("Services") or []):
        spath = f"{path}.Services[{si}]"
        _service(c, spath, s, ports, f'group "{gname}"', task_names)
        key = f"{s['Name']}/{s['PortLabel']}"
        if key in services:
            c.err(
                f"{spath}.Name",
                f'Service "{s["Name"]}" with port "{s["PortLabel"]}" is defined twice in group "{gname}"',
            )
        services[key] = si
    for name, vol in (g.get("Volumes") or {}).items():
        if vol.get("Type") not in ("host", "csi"):
            c.err(
                f'{path}.Volumes["{name}"].Type',
                f'Volume "{name}" has an unrecognised type "{vol.get("Type")}"; use host or csi',
            )
        if not vol.get("Source"):
            c.err(f'{path}.Volumes["{name}"].Source', f'Volume "{name}" has an empty source')


def _ports(c: _Checker, path: str, networks: list[dict[str, Any]], where: str) -> set[str]:
    labels: dict[str, str] = {}
    statics: dict[int, str] = {}
    if len(networks) > 1:
        c.err(f"{path}.Networks", f"Only one network resource is allowed in {where}")
    for ni, net in enumerate(networks):
        mode = net.get("Mode") or ""
        if mode and mode not in ("host", "bridge", "none") and not mode.startswith("cni/"):
            c.err(
                f"{path}.Networks[{ni}].Mode",
                f'Unsupported network mode "{mode}"; use host, bridge, none or cni/<name>',
            )
        for kind in ("ReservedPorts", "DynamicPorts"):
            for pi, p in enumerate(net.get(kind) or []):
                ppath = f"{path}.Networks[{ni}].{kind}[{pi}]"
                label = p.get("Label", "")
                if problem := validate_blocks.port_label_problem(label):
                    c.err(f"{ppath}.Label", problem)
                if label in labels:
                    c.err(f"{ppath}.Label", f'Port label "{label}" is declared twice in {where}')
                labels[label] = kind
                value = p.get("Value", 0)
                if kind == "ReservedPorts":
                    if not 0 < value <= 65535:
                        c.err(
                            f"{ppath}.Value",
                            f'Port "{label}": static port {value} is out of range; use 1-65535',
                        )
                    elif value in statics:
                        c.err(
                            f"{ppath}.Value",
                            f'Port "{label}": static port {value} is already used by port "{statics[value]}"',
                        )
                    else:
                        statics[value] = label
                to = p.get("To", 0)
                if not -1 <= to <= 65535:
                    c.err(
                        f"{ppath}.To",
                        f'Port "{label}": "to" port {to} is out of range; use 1-65535',
                    )
    return set(labels)


def _task(
    c: _Checker, path: str, t: dict[str, Any], g: dict[str, Any], j: dict[str, Any], ports: set[str]
) -> None:
    name = t["Name"]
    where = f'task "{name}"'
    if not name:
        c.err(f"{path}.Name", "Missing task name")
    elif "/" in name:
        c.err(f"{path}.Name", f'Task name "{name}" cannot contain slashes')
    if not t["Driver"]:
        c.err(
            f"{path}.Driver",
            f'Task "{name}" is missing a driver: add driver = "docker", "exec" or "raw_exec"',
        )
    if t["KillTimeout"] < 0:
        c.err(f"{path}.KillTimeout", f"{where}: kill_timeout can't be negative")
    r = t["Resources"]
    if not r.get("Cores") and r["CPU"] < 1:
        c.err(f"{path}.Resources.CPU", f"{where}: minimum CPU value is 1; got {r['CPU']}")
    if r.get("Cores") and r.get("CPU") and r["CPU"] != 100 and r["Cores"] > 0:
        c.err(f"{path}.Resources.Cores", f"{where}: only one of cpu or cores may be set")
    if r["MemoryMB"] < 10:
        c.err(
            f"{path}.Resources.MemoryMB",
            f"{where}: minimum MemoryMB value is 10; got {r['MemoryMB']}",
        )
    if r.get("MemoryMaxMB") and r["MemoryMaxMB"] < r["MemoryMB"]:
        c.err(
            f"{path}.Resources.MemoryMaxMB",
            f"{where}: memory_max ({r['MemoryMaxMB']}) must be at least memory ({r['MemoryMB']})",
        )
    logs = t["LogConfig"]
    if logs["MaxFiles"] < 1:
        c.err(
            f"{path}.LogConfig.MaxFiles",
            f"{where}: minimum number of log files is 1; got {logs['MaxFiles']}",
        )
    if logs["MaxFileSizeMB"] < 1:
        c.err(
            f"{path}.LogConfig.MaxFileSizeMB",
            f"{where}: minimum log file size is 1 MB; got {logs['MaxFileSizeMB']}",
        )
    disk = g["EphemeralDisk"]["SizeMB"]
    if disk and logs["MaxFiles"] * logs["MaxFileSizeMB"] > disk:
        c.err(
            f"{path}.LogConfig",
            f"{where}: log storage ({logs['MaxFiles'] * logs['MaxFileSizeMB']} MB) exceeds the group's ephemeral disk ({disk} MB)",
        )
    lc = t.get("Lifecycle")
    if lc is not None and lc.get("Hook") not in ("prestart", "poststart", "poststop"):
        c.err(
            f"{path}.Lifecycle.Hook",
            f'{where}: invalid lifecycle hook "{lc.get("Hook")}"; use prestart, poststart or poststop',
        )
    for i, con in enumerate(t.get("Constraints") or []):
        _constraint(c, f"{path}.Constraints[{i}]", con)
    for i, tmpl in enumerate(t.get("Templates") or []):
        tp = f"{path}.Templates[{i}]"
        if not tmpl["SourcePath"] and not tmpl["EmbeddedTmpl"]:
            c.err(tp, f"{where}: template {i + 1} needs data or a source")
        if not tmpl["DestPath"]:
            c.err(f"{tp}.DestPath", f"{where}: template {i + 1} needs a destination")
        mode = tmpl["ChangeMode"]
        if mode not in ("noop", "restart", "signal", "script"):
            c.err(
                f"{tp}.ChangeMode",
                f'{where}: invalid template change_mode "{mode}"; use noop, restart, signal or script',
            )
        if mode == "signal" and not tmpl["ChangeSignal"]:
            c.err(
                f"{tp}.ChangeSignal", f"{where}: template change_mode signal needs a change_signal"
            )
        if mode == "script" and not (tmpl.get("ChangeScript") or {}).get("Command"):
            c.err(
                f"{tp}.ChangeScript",
                f"{where}: template change_mode script needs a change_script with a command",
            )
        if tmpl["Splay"] < 0:
            c.err(f"{tp}.Splay", f"{where}: template splay can't be negative")
        try:
            int(tmpl["Perms"], 8)
        except ValueError:
            c.err(
                f"{tp}.Perms",
                f'{where}: template perms "{tmpl["Perms"]}" is not an octal mode such as "0644"',
            )
    for i, a in enumerate(t.get("Artifacts") or []):
        if not a["GetterSource"]:
            c.err(
                f"{path}.Artifacts[{i}].GetterSource", f"{where}: artifact {i + 1} needs a source"
            )
        if a["GetterMode"] not in ("any", "file", "dir"):
            c.err(
                f"{path}.Artifacts[{i}].GetterMode",
                f'{where}: invalid artifact mode "{a["GetterMode"]}"; use any, file or dir',
            )
        dest = a.get("RelativeDest") or ""
        if dest.startswith("..") or "/../" in dest:
            c.err(
                f"{path}.Artifacts[{i}].RelativeDest",
                f"{where}: artifact destination escapes the allocation directory",
            )
    volumes = g.get("Volumes") or {}
    for i, vm in enumerate(t.get("VolumeMounts") or []):
        if vm["Volume"] not in volumes:
            c.err(
                f"{path}.VolumeMounts[{i}].Volume",
                f'{where}: volume_mount refers to volume "{vm["Volume"]}", which the group does not declare',
            )
    for si, s in enumerate(t.get("Services") or []):
        _service(c, f"{path}.Services[{si}]", s, ports, where, None)


def _service(
    c: _Checker,
    path: str,
    s: dict[str, Any],
    ports: set[str],
    where: str,
    task_names: dict[str, int] | None,
) -> None:
    name = s["Name"]
    if "${" not in name and not _SERVICE_NAME_RE.match(name):
        c.err(
            f"{path}.Name",
            f'Service name "{name}" must be valid per RFC 1123 and can contain only alphanumeric characters or dashes',
        )
    if s["AddressMode"] not in ("auto", "host", "driver", "alloc"):
        c.err(
            f"{path}.AddressMode",
            f'Service "{name}": invalid address_mode "{s["AddressMode"]}"; use auto, host, driver or alloc',
        )
    if s["Provider"] not in ("consul", "nomad"):
        c.err(
            f"{path}.Provider",
            f'Service "{name}": invalid provider "{s["Provider"]}"; use consul or nomad',
        )
    label = s["PortLabel"]
    if label and not label.isdigit() and "${" not in label and label not in ports:
        c.err(
            f"{path}.PortLabel",
            f'port "{label}" is used by service "{name}" but not declared in the group\'s network block',
        )
    if s.get("Address") and s["AddressMode"] not in ("auto",):
        c.err(
            f"{path}.Address",
            f'Service "{name}": address can only be used with address_mode "auto"',
        )
    if task_names is not None and s.get("TaskName") and s["TaskName"] not in task_names:
        c.err(
            f"{path}.TaskName",
            f'Service "{name}" refers to task "{s["TaskName"]}", which is not in the group',
        )
    for ci, chk in enumerate(s.get("Checks") or []):
        cp = f"{path}.Checks[{ci}]"
        cname = chk["Name"] or f"check {ci + 1}"
        ctype = chk["Type"]
        if ctype not in CHECK_TYPES:
            c.err(
                f"{cp}.Type",
                f'Service "{name}" check "{cname}": invalid type "{ctype}"; use one of {", ".join(CHECK_TYPES)}',
            )
            continue
        if chk["Interval"] == 0:
            c.err(
                f"{cp}.Interval",
                f'Service "{name}" check "{cname}": missing interval (at least 1s)',
            )
        elif chk["Interval"] < MIN_CHECK_INTERVAL:
            c.err(
                f"{cp}.Interval", f'Service "{name}" check "{cname}": interval must be at least 1s'
            )
        if chk["Timeout"] == 0:
            c.err(
                f"{cp}.Timeout", f'Service "{name}" check "{cname}": missing timeout (at least 1s)'
            )
        elif chk["Timeout"] < MIN_CHECK_TIMEOUT:
            c.err(f"{cp}.Timeout", f'Service "{name}" check "{cname}": timeout must be at least 1s')
        if (
            ctype == "http"
            and chk["Path"]
            and not chk["Path"].startswith("/")
            and "://" not in chk["Path"]
        ):
            c.err(f"{cp}.Path", f'Service "{name}" check "{cname}": http path must start with "/"')
        if ctype == "http" and not chk["Path"]:
            c.err(f"{cp}.Path", f'Service "{name}" check "{cname}": an http check needs a path')
        if ctype == "script" and not chk["Command"]:
            c.err(
                f"{cp}.Command", f'Service "{name}" check "{cname}": a script check needs a command'
            )
        if chk["InitialStatus"] not in ("", "passing", "warning", "critical"):
            c.err(
                f"{cp}.InitialStatus",
                f'Service "{name}" check "{cname}": invalid initial_status "{chk["InitialStatus"]}"',
            )
        plabel = chk["PortLabel"]
        if plabel and not plabel.isdigit() and plabel not in ports:
            c.err(
                f"{cp}.PortLabel",
                f'port "{plabel}" is used by the check "{cname}" of service "{name}" but not declared in the group\'s network block',
            )
        if (
            ctype in ("http", "tcp", "grpc")
            and not plabel
            and not label
            and s["Provider"] == "consul"
            and chk["AddressMode"] != "driver"
        ):
            c.err(
                f"{cp}.PortLabel",
                f'Service "{name}" check "{cname}": a {ctype} check needs a port (on the check or the service)',
            )

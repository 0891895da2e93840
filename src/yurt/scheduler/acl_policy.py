"""Nomad's ACL policy language: rules in HCL or JSON -> a `Policy`, and policies -> an `ACL`.

Pure logic, no I/O. The names, expansions and merge rules are Nomad 1.7's (`acl/policy.go`
and `acl/acl.go`): a namespace's `policy` is shorthand for a set of capabilities, several
policies grant the union of what they grant, `deny` always wins, and a namespace without a
rule of its own takes the rule of the closest matching glob.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from yurt.api.json_document import DocumentError, load_object
from yurt.jobspec.diagnostics import JobspecError
from yurt.jobspec.evaluate import EvalError, Scope, evaluate
from yurt.jobspec.functions import functions
from yurt.jobspec.syntax import Block, Body, parse_body

DENY = "deny"
READ = "read"
WRITE = "write"
LIST = "list"
SCALE = "scale"

# Namespace capabilities.
LIST_JOBS = "list-jobs"
PARSE_JOB = "parse-job"
READ_JOB = "read-job"
SUBMIT_JOB = "submit-job"
DISPATCH_JOB = "dispatch-job"
READ_LOGS = "read-logs"
READ_FS = "read-fs"
ALLOC_EXEC = "alloc-exec"
ALLOC_NODE_EXEC = "alloc-node-exec"
ALLOC_LIFECYCLE = "alloc-lifecycle"
SENTINEL_OVERRIDE = "sentinel-override"
CSI_REGISTER_PLUGIN = "csi-register-plugin"
CSI_WRITE_VOLUME = "csi-write-volume"
CSI_READ_VOLUME = "csi-read-volume"
CSI_LIST_VOLUME = "csi-list-volume"
CSI_MOUNT_VOLUME = "csi-mount-volume"
LIST_SCALING_POLICIES = "list-scaling-policies"
READ_SCALING_POLICY = "read-scaling-policy"
READ_JOB_SCALING = "read-job-scaling"
SCALE_JOB = "scale-job"
SUBMIT_RECOMMENDATION = "submit-recommendation"

NAMESPACE_CAPABILITIES = frozenset(
    {
        DENY,
        LIST_JOBS,
        PARSE_JOB,
        READ_JOB,
        SUBMIT_JOB,
        DISPATCH_JOB,
        READ_LOGS,
        READ_FS,
        ALLOC_EXEC,
        ALLOC_NODE_EXEC,
        ALLOC_LIFECYCLE,
        SENTINEL_OVERRIDE,
        CSI_REGISTER_PLUGIN,
        CSI_WRITE_VOLUME,
        CSI_READ_VOLUME,
        CSI_LIST_VOLUME,
        CSI_MOUNT_VOLUME,
        LIST_SCALING_POLICIES,
        READ_SCALING_POLICY,
        READ_JOB_SCALING,
        SCALE_JOB,
        SUBMIT_RECOMMENDATION,
        # Dynamic host volumes (Nomad 1.10): accepted so that newer policies load.
        "host-volume-create",
        "host-volume-register",
        "host-volume-read",
        "host-volume-write",
        "host-volume-delete",
    }
)

_READ_CAPS = (
    LIST_JOBS,
    PARSE_JOB,
    READ_JOB,
    CSI_LIST_VOLUME,
    CSI_READ_VOLUME,
    READ_JOB_SCALING,
    LIST_SCALING_POLICIES,
    READ_SCALING_POLICY,
)
_NAMESPACE_EXPANSION: dict[str, tuple[str, ...]] = {
    DENY: (DENY,),
    READ: _READ_CAPS,
    WRITE: (
        *_READ_CAPS,
        SCALE_JOB,
        SUBMIT_JOB,
        DISPATCH_JOB,
        READ_LOGS,
        READ_FS,
        ALLOC_EXEC,
        ALLOC_LIFECYCLE,
        CSI_MOUNT_VOLUME,
        CSI_WRITE_VOLUME,
        SUBMIT_RECOMMENDATION,
    ),
    SCALE: (LIST_SCALING_POLICIES, READ_SCALING_POLICY, READ_JOB_SCALING, SCALE_JOB),
}

HOST_VOLUME_CAPABILITIES = frozenset({DENY, "mount-readonly", "mount-readwrite"})
_HOST_VOLUME_EXPANSION: dict[str, tuple[str, ...]] = {
    DENY: (DENY,),
    READ: ("mount-readonly",),
    WRITE: ("mount-readonly", "mount-readwrite"),
}
VARIABLE_CAPABILITIES = frozenset({DENY, READ, WRITE, LIST, "destroy"})

_VALID_NAMESPACE = re.compile(r"^[a-zA-Z0-9-*]{1,128}$")
_VALID_VOLUME = re.compile(r"^[a-zA-Z0-9-_*]{1,128}$")
_COARSE = ("agent", "node", "operator", "quota", "plugin")
_COARSE_VALID: dict[str, tuple[str, ...]] = {
    "agent": (DENY, READ, WRITE),
    "node": (DENY, READ, WRITE),
    "operator": (DENY, READ, WRITE),
    "quota": (DENY, READ, WRITE),
    "plugin": (DENY, READ, LIST),
}


class PolicyError(ValueError):
    """An invalid policy: Nomad's message, prefixed with where it is when that is known."""


@dataclass(frozen=True)
class NamespaceRule:
    name: str
    policy: str
    # The explicit capabilities followed by the expansion of `policy`, as Nomad stores them.
    capabilities: tuple[str, ...]
    variables: Mapping[str, tuple[str, ...]] | None = None


@dataclass(frozen=True)
class HostVolumeRule:
    name: str
    policy: str
    capabilities: tuple[str, ...]


@dataclass(frozen=True)
class Policy:
    namespaces: tuple[NamespaceRule, ...] = ()
    host_volumes: tuple[HostVolumeRule, ...] = ()
    coarse: Mapping[str, str] = field(default_factory=dict)
    raw: str = ""

    def rules_json(self) -> dict[str, Any]:
        """The `RulesJSON` Nomad shows with a policy."""

        def one(name: str) -> dict[str, str] | None:
            return {"Policy": self.coarse[name]} if name in self.coarse else None

        return {
            "Namespaces": [
                {"Name": n.name, "Policy": n.policy, "Capabilities": list(n.capabilities)}
                for n in self.namespaces
            ]
            or None,
            "HostVolumes": [
                {"Name": h.name, "Policy": h.policy, "Capabilities": list(h.capabilities)}
                for h in self.host_volumes
            ]
            or None,
            "Agent": one("agent"),
            "Node": one("node"),
            "Operator": one("operator"),
            "Quota": one("quota"),
            "Plugin": one("plugin"),
            "Raw": self.raw,
        }


def _go_strings(values: Iterable[str]) -> str:
    items = list(values)
    if not items:
        return "[]string(nil)"
    return "[]string{" + ", ".join(json.dumps(v) for v in items) + "}"


def _go_namespace(name: str, policy: str, caps: Iterable[str]) -> str:
    return (
        f"&acl.NamespacePolicy{{Name:{json.dumps(name)}, Policy:{json.dumps(policy)}, "
        f"Capabilities:{_go_strings(caps)}, Variables:(*acl.VariablesPolicy)(nil)}}"
    )


def _go_volume(name: str, policy: str, caps: Iterable[str]) -> str:
    return (
        f"&acl.HostVolumePolicy{{Name:{json.dumps(name)}, Policy:{json.dumps(policy)}, "
        f"Capabilities:{_go_strings(caps)}}}"
    )


# --- reading rules -------------------------------------------------------------------------


@dataclass
class _Raw:
    """A rule block as read, with where it was, before validation."""

    name: str
    attrs: dict[str, Any]
    where: str
    blocks: dict[str, Any] = field(default_factory=dict)


@dataclass
class _RawPolicy:
    namespaces: list[_Raw] = field(default_factory=list)
    host_volumes: list[_Raw] = field(default_factory=list)
    coarse: dict[str, _Raw] = field(default_factory=dict)


_BLOCK_KEYS = {
    "namespace": ("policy", "capabilities"),
    "host_volume": ("policy", "capabilities"),
    **{name: ("policy",) for name in _COARSE},
}


def parse_policy(rules: str, filename: str = "rules") -> Policy:
    """Parse and validate policy rules (HCL, or JSON when the text is a JSON object)."""
    if not rules.strip():
        return Policy(raw=rules)
    if rules.lstrip().startswith("{"):
        raw = _read_json(rules, filename)
    else:
        raw = _read_hcl(rules, filename)
    return _validate(raw, rules)


def _fail(where: str, message: str) -> PolicyError:
    return PolicyError(f"{where}: {message}" if where else message)


def _read_hcl(rules: str, filename: str) -> _RawPolicy:
    try:
        body = parse_body(rules, filename)
    except JobspecError as exc:
        raise PolicyError(f"Failed to parse ACL Policy: {exc}") from None
    out = _RawPolicy()
    scope = Scope({}, {}, functions(None))
    for name, attr in body.attributes.items():
        where = f"{filename}:{attr.pos.line}:{attr.pos.column}"
        raise _fail(where, f'unknown key "{name}": a policy holds only blocks')
    for block in body.blocks:
        where = f"{filename}:{block.pos.line}:{block.pos.column}"
        if block.type not in _BLOCK_KEYS:
            raise _fail(
                where,
                f'unknown block "{block.type}"; policies have namespace, host_volume, '
                "agent, node, operator, quota and plugin blocks",
            )
        labelled = block.type in ("namespace", "host_volume")
        if labelled and len(block.labels) != 1:
            raise _fail(where, f'{block.type} blocks take one label: {block.type} "name" {{}}')
        if not labelled and block.labels:
            raise _fail(where, f"{block.type} blocks take no label")
        attrs = _hcl_attrs(block, scope, filename)
        item = _Raw(block.labels[0] if labelled else block.type, attrs, where)
        if block.type == "namespace":
            item.blocks = _namespace_blocks(block, scope, filename)
            out.namespaces.append(item)
        elif block.type == "host_volume":
            _no_blocks(block, filename)
            out.host_volumes.append(item)
        else:
            _no_blocks(block, filename)
            out.coarse[block.type] = item
    return out


def _hcl_attrs(block: Block, scope: Scope, filename: str) -> dict[str, Any]:
    allowed = _BLOCK_KEYS[block.type]
    return _attrs_of(block.body, allowed, scope, filename, block.type)


def _attrs_of(
    body: Body, allowed: Iterable[str], scope: Scope, filename: str, what: str
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, attr in body.attributes.items():
        where = f"{filename}:{attr.pos.line}:{attr.pos.column}"
        if name not in allowed:
            keys = ", ".join(f'"{k}"' for k in allowed)
            raise _fail(where, f'unknown key "{name}" in {what} block; expected {keys}')
        try:
            out[name] = evaluate(attr.expr, scope)
        except EvalError as exc:
            raise _fail(where, exc.message) from None
        out[f"{name}@"] = where
    return out


def _no_blocks(block: Block, filename: str) -> None:
    for inner in block.body.blocks:
        where = f"{filename}:{inner.pos.line}:{inner.pos.column}"
        raise _fail(where, f'unknown block "{inner.type}" in {block.type} block')


def _namespace_blocks(block: Block, scope: Scope, filename: str) -> dict[str, Any]:
    """`variables { path "glob" { capabilities = [...] } }` inside a namespace rule."""
    paths: dict[str, Any] = {}
    for inner in block.body.blocks:
        where = f"{filename}:{inner.pos.line}:{inner.pos.column}"
        if inner.type != "variables":
            raise _fail(where, f'unknown block "{inner.type}" in namespace block')
        for path in inner.body.blocks:
            pwhere = f"{filename}:{path.pos.line}:{path.pos.column}"
            if path.type != "path" or len(path.labels) != 1:
                raise _fail(pwhere, 'variables blocks hold path "glob" { capabilities = [...] }')
            attrs = _attrs_of(path.body, ("capabilities",), scope, filename, "path")
            paths[path.labels[0]] = (attrs.get("capabilities"), pwhere)
        if not inner.body.blocks:
            raise _fail(
                where,
                f'Invalid variable policy: no variable paths in namespace "{block.labels[0]}"',
            )
    return {"variables": paths} if block.body.blocks else {}


def _read_json(rules: str, filename: str) -> _RawPolicy:
    try:
        doc = load_object(rules, filename)
    except DocumentError as exc:
        raise PolicyError(f"Failed to parse ACL Policy: {exc}") from None
    out = _RawPolicy()
    for key, value in doc.items():
        if key not in _BLOCK_KEYS:
            raise _fail(
                f"{filename}: {key}",
                "unknown block; policies have namespace, host_volume, agent, node, "
                "operator, quota and plugin blocks",
            )
        if key in ("namespace", "host_volume"):
            items = _json_labelled(value, key, filename)
            target = out.namespaces if key == "namespace" else out.host_volumes
            target.extend(items)
        else:
            body = value[0] if isinstance(value, list) and len(value) == 1 else value
            if not isinstance(body, dict):
                raise _fail(f"{filename}: {key}", "expected an object")
            out.coarse[key] = _json_raw(key, body, key, f"{filename}: {key}")
    return out


def _json_labelled(value: Any, key: str, filename: str) -> list[_Raw]:
    # HCL's JSON form: {"namespace": {"default": {...}}} or a list of such objects.
    objects = value if isinstance(value, list) else [value]
    out: list[_Raw] = []
    for obj in objects:
        if not isinstance(obj, dict):
            raise _fail(f"{filename}: {key}", "expected an object keyed by name")
        for name, body in obj.items():
            body = body[0] if isinstance(body, list) and len(body) == 1 else body
            where = f'{filename}: {key}."{name}"'
            if not isinstance(body, dict):
                raise _fail(where, "expected an object")
            out.append(_json_raw(name, body, key, where))
    return out


def _json_raw(name: str, body: dict[str, Any], kind: str, where: str) -> _Raw:
    allowed = _BLOCK_KEYS[kind]
    attrs: dict[str, Any] = {}
    blocks: dict[str, Any] = {}
    for k, v in body.items():
        if k == "variables" and kind == "namespace":
            paths = (v or {}).get("path") if isinstance(v, dict) else None
            if not isinstance(paths, dict) or not paths:
                raise _fail(
                    where, f'Invalid variable policy: no variable paths in namespace "{name}"'
                )
            blocks["variables"] = {
                p: ((b or {}).get("capabilities") if isinstance(b, dict) else None, where)
                for p, b in paths.items()
            }
            continue
        if k not in allowed:
            keys = ", ".join(f'"{a}"' for a in allowed)
            raise _fail(where, f'unknown key "{k}" in {kind} block; expected {keys}')
        attrs[k] = v
        attrs[f"{k}@"] = f"{where}.{k}"
    return _Raw(name, attrs, where, blocks)


# --- validation ----------------------------------------------------------------------------


def _str_attr(item: _Raw, key: str) -> str:
    value = item.attrs.get(key, "")
    if not isinstance(value, str):
        raise _fail(item.attrs.get(f"{key}@", item.where), f'"{key}" must be a string')
    return value


def _caps_attr(item: _Raw) -> list[str]:
    value = item.attrs.get("capabilities", [])
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(
            item.attrs.get("capabilities@", item.where), '"capabilities" must be a list of strings'
        )
    return list(value)


@dataclass(frozen=True)
class _Kind:
    """What a labelled rule (namespace, host_volume) may hold, and how Go prints one."""

    what: str
    valid_name: re.Pattern[str]
    expansion: Mapping[str, tuple[str, ...]]
    capabilities: frozenset[str]
    go: Callable[[str, str, Iterable[str]], str]


_NAMESPACE = _Kind(
    "namespace", _VALID_NAMESPACE, _NAMESPACE_EXPANSION, NAMESPACE_CAPABILITIES, _go_namespace
)
_HOST_VOLUME = _Kind(
    "host volume", _VALID_VOLUME, _HOST_VOLUME_EXPANSION, HOST_VOLUME_CAPABILITIES, _go_volume
)


def _checked(item: _Raw, kind: _Kind) -> tuple[str, tuple[str, ...]]:
    """A namespace or host_volume rule's policy and capabilities (the explicit ones, then the
    expansion of the policy), or Nomad's error, which shows the rule as Go prints it."""
    policy, caps = _str_attr(item, "policy"), _caps_attr(item)
    shown = kind.go(item.name, policy, caps)
    if not kind.valid_name.match(item.name):
        raise _fail(item.where, f"Invalid {kind.what} name: {shown}")
    if policy and policy not in kind.expansion:
        raise _fail(item.attrs.get("policy@", item.where), f"Invalid {kind.what} policy: {shown}")
    for cap in caps:
        if cap not in kind.capabilities:
            raise _fail(
                item.attrs.get("capabilities@", item.where),
                f"Invalid {kind.what} capability '{cap}': {shown}",
            )
    return policy, tuple(caps) + (kind.expansion[policy] if policy else ())


def _validate(raw: _RawPolicy, text: str) -> Policy:
    if not raw.namespaces and not raw.host_volumes and not raw.coarse:
        raise PolicyError(f"Invalid policy: {text}")
    namespaces = [
        NamespaceRule(item.name, *_checked(item, _NAMESPACE), _variables(item))
        for item in raw.namespaces
    ]
    volumes = [
        HostVolumeRule(item.name, *_checked(item, _HOST_VOLUME)) for item in raw.host_volumes
    ]
    coarse: dict[str, str] = {}
    for kind, item in raw.coarse.items():
        policy = _str_attr(item, "policy")
        if policy not in _COARSE_VALID[kind]:
            go_type = kind.capitalize()
            raise _fail(
                item.attrs.get("policy@", item.where),
                f"Invalid {kind} policy: &acl.{go_type}Policy{{Policy:{json.dumps(policy)}}}",
            )
        coarse[kind] = policy
    return Policy(tuple(namespaces), tuple(volumes), coarse, text)


def _variables(item: _Raw) -> dict[str, tuple[str, ...]] | None:
    paths = item.blocks.get("variables")
    if not paths:
        return None
    out: dict[str, tuple[str, ...]] = {}
    for path, (caps, where) in paths.items():
        if not isinstance(caps, list) or not all(isinstance(c, str) for c in caps):
            raise _fail(where, f'Invalid variable capabilities for path "{path}": expected a list')
        for cap in caps:
            if cap not in VARIABLE_CAPABILITIES:
                raise _fail(where, f"Invalid variable capability '{cap}' for path \"{path}\"")
        out[path] = tuple(caps)
    return out


# --- evaluation ----------------------------------------------------------------------------

ALL_NAMESPACES = "*"


def glob_match(pattern: str, name: str) -> bool:
    """`*` matches any run of characters (ryanuber/go-glob, as Nomad uses)."""
    parts = pattern.split("*")
    if len(parts) == 1:
        return pattern == name
    if not name.startswith(parts[0]):
        return False
    pos = len(parts[0])
    for middle in parts[1:-1]:
        found = name.find(middle, pos)
        if found < 0:
            return False
        pos = found + len(middle)
    return name[pos:].endswith(parts[-1]) and len(name) - pos >= len(parts[-1])


def _max_privilege(a: str, b: str) -> str:
    for level in (DENY, WRITE, READ, LIST):
        if level in (a, b):
            return level
    return ""


@dataclass
class ACL:
    """What one token may do: the policies' rules merged, ready to answer questions."""

    management: bool = False
    namespaces: dict[str, set[str]] = field(default_factory=dict)
    wildcard_namespaces: dict[str, set[str]] = field(default_factory=dict)
    host_volumes: dict[str, set[str]] = field(default_factory=dict)
    wildcard_host_volumes: dict[str, set[str]] = field(default_factory=dict)
    coarse: dict[str, str] = field(default_factory=dict)
    # Variables rules keyed "namespace\x00path", globbed as one string, as Nomad does.
    variables: dict[str, set[str]] = field(default_factory=dict)
    wildcard_variables: dict[str, set[str]] = field(default_factory=dict)

    @property
    def is_management(self) -> bool:
        return self.management

    def _namespace_caps(self, ns: str) -> set[str] | None:
        if ns in self.namespaces:
            return self.namespaces[ns]
        return _closest_glob(self.wildcard_namespaces, ns)

    def allow_namespace_op(self, ns: str, cap: str) -> bool:
        if self.management:
            return True
        if ns == ALL_NAMESPACES:
            # The "all namespaces" query: allowed when some namespace allows it; the
            # answer is then filtered per object.
            return any(
                cap in caps and DENY not in caps
                for caps in (*self.namespaces.values(), *self.wildcard_namespaces.values())
            )
        caps = self._namespace_caps(ns)
        return caps is not None and DENY not in caps and cap in caps

    def allow_namespace_any(self, ns: str, *caps: str) -> bool:
        return any(self.allow_namespace_op(ns, c) for c in caps)

    def allow_namespace(self, ns: str) -> bool:
        """Whether anything at all is allowed in the namespace."""
        if self.management:
            return True
        caps = self._namespace_caps(ns)
        return bool(caps) and DENY not in (caps or set())

    def allow_host_volume_op(self, name: str, cap: str) -> bool:
        if self.management:
            return True
        caps = self.host_volumes.get(name)
        if caps is None:
            caps = _closest_glob(self.wildcard_host_volumes, name)
        return caps is not None and DENY not in caps and cap in caps

    def allow_variable_op(
        self, ns: str, path: str, cap: str, claim: WorkloadClaim | None = None
    ) -> bool:
        """Nomad's `AllowVariableOperation`: the closest rule for the namespace and path
        (deny wins), or a task's implicit read and list of its own `nomad/jobs/...`."""
        if self.management:
            return True
        key = f"{ns}\x00{path}"
        caps = self.variables.get(key)
        if caps is None:
            caps = _closest_glob(self.wildcard_variables, key)
        if caps is not None and DENY not in caps and cap in caps:
            return True
        return claim is not None and claim.allows_variable(ns, path, cap)

    def _level(self, kind: str, *allowed: str) -> bool:
        return self.management or self.coarse.get(kind, "") in allowed

    def allow_agent_read(self) -> bool:
        return self._level("agent", READ, WRITE)

    def allow_agent_write(self) -> bool:
        return self._level("agent", WRITE)

    def allow_node_read(self) -> bool:
        return self._level("node", READ, WRITE)

    def allow_node_write(self) -> bool:
        return self._level("node", WRITE)

    def allow_operator_read(self) -> bool:
        return self._level("operator", READ, WRITE)

    def allow_operator_write(self) -> bool:
        return self._level("operator", WRITE)

    def allow_quota_read(self) -> bool:
        return self._level("quota", READ, WRITE)

    def allow_quota_write(self) -> bool:
        return self._level("quota", WRITE)

    def allow_plugin_read(self) -> bool:
        return self._level("plugin", READ)

    def allow_plugin_list(self) -> bool:
        return self._level("plugin", READ, LIST)


@dataclass(frozen=True)
class WorkloadClaim:
    """What a task's workload identity names: Nomad's `ACLClaim`."""

    namespace: str
    job: str
    group: str
    task: str

    def allows_variable(self, ns: str, path: str, cap: str) -> bool:
        """A task may read and list `nomad/jobs`, and its job's, group's and task's own
        variables, in its own namespace."""
        if cap not in (READ, LIST) or ns != self.namespace:
            return False
        own = (
            "nomad/jobs",
            f"nomad/jobs/{self.job}",
            f"nomad/jobs/{self.job}/{self.group}",
            f"nomad/jobs/{self.job}/{self.group}/{self.task}",
        )
        return path in own


def _closest_glob(globs: Mapping[str, set[str]], name: str) -> set[str] | None:
    """The rule of the matching glob that leaves the fewest characters to the wildcards;
    ties go to the first in lexical order (Nomad walks a radix tree and sorts stably)."""
    best: tuple[int, str] | None = None
    for pattern in sorted(globs):
        if not glob_match(pattern, name):
            continue
        difference = len(name) - len(pattern) + pattern.count("*")
        if best is None or difference < best[0]:
            best = (difference, pattern)
    return None if best is None else globs[best[1]]


def _merge(target: dict[str, set[str]], name: str, caps: Iterable[str]) -> None:
    current = target.setdefault(name, set())
    if DENY in current:
        return
    for cap in caps:
        if cap == DENY:
            current.clear()
            current.add(DENY)
            return
        current.add(cap)


# What a namespace's `policy` grants on its variables (Nomad's expandNamespacePolicy).
_POLICY_VARIABLES: dict[str, tuple[str, ...]] = {
    READ: (READ, LIST),
    WRITE: (WRITE, READ, LIST, "destroy"),
}


def _variable_rules(rule: NamespaceRule) -> dict[str, tuple[str, ...]]:
    """A namespace rule's variable paths and capabilities; `read` implies `list`."""
    out: dict[str, list[str]] = {}
    if rule.policy in _POLICY_VARIABLES:
        out.setdefault("*", []).extend(_POLICY_VARIABLES[rule.policy])
    if rule.policy == DENY:
        out.setdefault("*", []).append(DENY)
    for path, caps in (rule.variables or {}).items():
        listed = list(caps)
        if READ in listed and LIST not in listed:
            listed.append(LIST)
        out.setdefault(path, []).extend(listed)
    return {path: tuple(caps) for path, caps in out.items()}


def compile_acl(policies: Iterable[Policy]) -> ACL:
    """Merge policies into one ACL, as Nomad's `NewACL` does."""
    acl = ACL()
    for policy in policies:
        for ns in policy.namespaces:
            table = acl.wildcard_namespaces if "*" in ns.name else acl.namespaces
            _merge(table, ns.name, ns.capabilities)
            for path, caps in _variable_rules(ns).items():
                key = f"{ns.name}\x00{path}"
                table = acl.wildcard_variables if "*" in key else acl.variables
                _merge(table, key, caps)
        for hv in policy.host_volumes:
            table = acl.wildcard_host_volumes if "*" in hv.name else acl.host_volumes
            _merge(table, hv.name, hv.capabilities)
        for kind, level in policy.coarse.items():
            acl.coarse[kind] = _max_privilege(acl.coarse.get(kind, ""), level)
    return acl


MANAGEMENT = ACL(management=True)

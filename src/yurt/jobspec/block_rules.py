"""jobspec2's rules for blocks whose decoded value depends on more than their own fields:
a scaling policy's type (from the group, or from a task's `scaling "cpu"` label) and the
group policy's required `max`, and a task's default workload identity (the unnamed
`identity` block becomes Task.Identity, the named ones stay in Identities)."""

from __future__ import annotations

from typing import Any

from yurt.jobspec.diagnostics import Collector
from yurt.jobspec.syntax import Block, pos_of

# A task's `scaling "<label>"` block -> the policy type it declares.
TASK_SCALING_TYPES = {"cpu": "vertical_cpu", "mem": "vertical_mem"}
GROUP_SCALING_TYPE = "horizontal"


def after_decode(spec: str, out: dict[str, Any], block: Block, collector: Collector) -> None:
    if spec == "scaling":
        _group_scaling(out, block, collector)
    elif spec == "task":
        _task_scaling(out, block, collector)
        _default_identity(out)


def _group_scaling(policy: dict[str, Any], block: Block, collector: Collector) -> None:
    if not policy["Type"]:
        policy["Type"] = GROUP_SCALING_TYPE
    if "max" not in block.body.attributes:
        collector.error(
            block.pos,
            'Missing required argument; The argument "max" is required, but no definition '
            "was found.",
        )
    typ = block.body.attributes.get("type")
    if typ is not None and policy["Type"] != GROUP_SCALING_TYPE:
        collector.error(
            pos_of(typ.expr),
            "Invalid group scaling type; task group scaling policy had invalid type: "
            f'"{policy["Type"]}"',
        )


def _task_scaling(task: dict[str, Any], block: Block, collector: Collector) -> None:
    blocks = [b for b in block.body.blocks if b.type == "scaling"]
    policies = task.get("ScalingPolicies") or []
    if not blocks or len(blocks) != len(policies):
        return
    kept: list[dict[str, Any]] = []
    seen: set[str] = set()
    for b, policy in zip(blocks, policies, strict=True):
        if not b.labels:
            continue  # reported as a missing label
        label = b.labels[0].lower()
        want = TASK_SCALING_TYPES.get(label)
        if want is None:
            collector.error(
                b.pos, 'Invalid scaling policy name; scaling policy name must be "cpu" or "mem"'
            )
            continue
        if label in seen:
            collector.error(
                b.pos,
                f'Duplicate scaling "{label}" block; Only one scaling {label} block is allowed.',
            )
            continue
        seen.add(label)
        if not policy["Type"]:
            policy["Type"] = want
        elif policy["Type"] != want:
            collector.error(
                b.pos,
                "Invalid scaling policy type; Invalid policy type, expected "
                f'"{policy["Type"]}" but found "{want}"',
            )
            continue
        kept.append(policy)
    task["ScalingPolicies"] = kept or None


def _default_identity(task: dict[str, Any]) -> None:
    identities = task.get("Identities") or []
    default = [i for i in identities if i["Name"] in ("", "default")]
    if not default:
        return
    task["Identity"] = default[0]
    task["Identities"] = [i for i in identities if i["Name"] not in ("", "default")] or None

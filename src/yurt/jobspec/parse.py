"""A job file -> the Nomad API job JSON that `nomad job run -output` prints."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict, Unpack

from yurt.jobspec import hcl_messages, limits
from yurt.jobspec.decode import Decoder, Positions
from yurt.jobspec.diagnostics import Collector, Pos
from yurt.jobspec.evaluate import EvalError, Scope
from yurt.jobspec.functions import functions
from yurt.jobspec.hcljson import looks_like_json, parse_json_body
from yurt.jobspec.syntax import Block, Expr, parse_body
from yurt.jobspec.variable_validation import check_validations
from yurt.jobspec.variables import declare, declare_shorthand, resolve

_TOP_LEVEL = ("job", "variable", "variables", "locals")


@dataclass
class ParsedJob:
    """The job JSON, and where each of its fields came from in the file."""

    job: dict[str, Any]
    positions: Positions
    filename: str

    def position(self, path: str) -> Pos:
        """The closest recorded position for a JSON path (its own, or an enclosing one's)."""
        p = path
        while p:
            if p in self.positions:
                return self.positions[p]
            cut = max(p.rfind("."), p.rfind("["))
            p = p[:cut] if cut > 0 else ""
        return self.positions.get("Job", Pos(1, 1))


class LoadOptions(TypedDict, total=False):
    """What a job file is read with besides its text: `-var` values, `-var-file`s, the
    environment for NOMAD_VAR_*, and whether its functions may read files beside it."""

    variables: Mapping[str, str] | None
    var_files: Sequence[Path]
    environ: Mapping[str, str] | None
    allow_fs: bool


def load_job(text: str, filename: str, **options: Unpack[LoadOptions]) -> ParsedJob:
    """Parse, evaluate and decode a job file; raise JobspecError with every diagnostic.

    Bounded by `yurt.jobspec.limits`: a file past a limit raises LimitError (a
    JobspecError) at the place it was found."""
    try:
        with limits.budget(filename):
            parsed = _load_job(
                text,
                filename,
                variables=options.get("variables"),
                var_files=options.get("var_files", ()),
                environ=options.get("environ"),
                allow_fs=options.get("allow_fs", False),
            )
    except RecursionError:
        # The nesting checks come first, so this is a last resort: still a diagnostic.
        raise limits.LimitError(
            filename, Pos(1, 1), "this file nests blocks or expressions too deeply to be read"
        ) from None
    if limits.size_exceeds(parsed.job, limits.MAX_JOB_SIZE):
        raise limits.LimitError(
            filename,
            parsed.positions.get("Job", Pos(1, 1)),
            f"the job is larger than {limits.MAX_JOB_SIZE} characters as JSON",
        )
    return parsed


def _load_job(
    text: str,
    filename: str,
    *,
    variables: Mapping[str, str] | None,
    var_files: Sequence[Path],
    environ: Mapping[str, str] | None,
    allow_fs: bool,
) -> ParsedJob:
    body = parse_json_body(text, filename) if looks_like_json(text) else parse_body(text, filename)
    collector = Collector(filename)
    base_dir = Path(filename).resolve().parent if allow_fs else None
    funcs = functions(base_dir)

    for attr in body.attributes.values():
        collector.error(attr.pos, hcl_messages.unsupported_argument(attr.name, (), ()))
    jobs = []
    variable_blocks = []
    shorthand_blocks = []
    locals_exprs: dict[str, Expr] = {}
    for block in body.blocks:
        if block.type == "job":
            jobs.append(block)
        elif block.type == "variable":
            variable_blocks.append(block)
        elif block.type == "variables":
            shorthand_blocks.append(block)
        elif block.type == "locals":
            for attr in block.body.attributes.values():
                if attr.name in locals_exprs:
                    collector.error(attr.pos, f'local "{attr.name}" is defined twice')
                locals_exprs[attr.name] = attr.expr
        else:
            collector.error(block.pos, hcl_messages.unsupported_block(block.type, _TOP_LEVEL, ()))

    # Variable defaults may not refer to anything, as in Nomad.
    declared = declare(variable_blocks, Scope({}, {}, funcs), collector)
    declare_shorthand(shorthand_blocks, declared, Scope({}, {}, funcs), collector)
    values = resolve(
        declared,
        filename=filename,
        cli_vars=dict(variables or {}),
        var_files=var_files,
        environ=dict(environ or {}),
        collector=collector,
    )
    check_validations(declared, values, Scope(values, {}, funcs), collector)
    scope = Scope(values, locals_exprs, funcs)
    for name in locals_exprs:
        try:
            scope.local(name, Pos(1, 1))
        except EvalError as exc:
            collector.error(exc.pos, exc.message)

    if not jobs:
        collector.error(Pos(1, 1), 'no job block: a job file needs job "name" { ... }')
        collector.raise_if_any()
    for extra in jobs[1:]:
        collector.error(extra.pos, "only one job block is allowed in a file")
    if collector.diagnostics:
        # Decoding with missing variables would only repeat the same problem.
        collector.raise_if_any()

    block = jobs[0]
    decoder = Decoder(scope, collector)
    block = Block(block.type, block.labels, decoder.expand(block.body), block.pos)
    job = decoder.decode(block, "job", "Job", "")
    if block.labels:
        if job["ID"] is None:
            job["ID"] = block.labels[0]
        if job["Name"] is None:
            job["Name"] = block.labels[0]
    _normalize(job, block, decoder)
    collector.raise_if_any()
    return ParsedJob(job, decoder.positions, filename)


def _normalize(job: dict[str, Any], block: Any, decoder: Decoder) -> None:
    """jobspec2's normalizeJob: lone tasks get their own group; vault blocks inherit."""
    lone = [b for b in block.body.blocks if b.type == "task"]
    groups = job["TaskGroups"] or []
    if lone:
        # Group positions were recorded at their original index: shift them.
        shifted: Positions = {}
        for key, pos in decoder.positions.items():
            if key.startswith("Job.TaskGroups["):
                idx_end = key.index("]")
                idx = int(key[len("Job.TaskGroups[") : idx_end])
                shifted[f"Job.TaskGroups[{idx + len(lone)}]{key[idx_end + 1 :]}"] = pos
            else:
                shifted[key] = pos
        decoder.positions.clear()
        decoder.positions.update(shifted)
        alone = []
        for i, tb in enumerate(lone):
            task = decoder.decode(tb, "task", f"Job.TaskGroups[{i}].Tasks[0]", "")
            task["Name"] = tb.labels[0] if tb.labels else ""
            decoder.positions[f"Job.TaskGroups[{i}]"] = tb.pos
            group = {k: copy.copy(v) for k, v in _empty_group().items()}
            group["Name"] = task["Name"]
            group["Tasks"] = [task]
            alone.append(group)
        groups = alone + groups
        job["TaskGroups"] = groups
    job_vault = _vault(block, decoder, "Job")
    group_blocks = [b for b in block.body.blocks if b.type == "group"]
    for gi, group in enumerate(groups):
        gblock = group_blocks[gi - len(lone)] if gi >= len(lone) else None
        group_vault = _vault(gblock, decoder, f"Job.TaskGroups[{gi}]") if gblock else None
        for task in group.get("Tasks") or []:
            if task.get("Vault") is None:
                task["Vault"] = copy.deepcopy(group_vault or job_vault)


def _vault(block: Any, decoder: Decoder, path: str) -> dict[str, Any] | None:
    found = [b for b in block.body.blocks if b.type == "vault"]
    if not found:
        return None
    return decoder.decode(found[0], "vault", f"{path}.Vault", "")


def _empty_group() -> dict[str, Any]:
    from yurt.jobspec.schema import SPECS

    return dict(SPECS["group"].fields)


def parse_job(text: str, filename: str, **options: Unpack[LoadOptions]) -> dict[str, Any]:
    """HCL2 job file -> Nomad API job JSON (what `nomad job run -output` prints inside
    "Job"); raises JobspecError holding every diagnostic."""
    return load_job(text, filename, **options).job


def check_job(
    text: str, filename: str, **options: Unpack[LoadOptions]
) -> tuple[ParsedJob, list[str]]:
    """What `nomad job validate FILE` does: parse, canonicalize and validate, with every
    problem (syntax, decoding, or the server's checks) as a diagnostic at file:line:col.
    Returns the parsed job and the warnings; raises JobspecError."""
    from yurt.jobspec.canonical import canonicalize
    from yurt.jobspec.diagnostics import Diagnostic, JobspecError
    from yurt.jobspec.validate import validate

    parsed = load_job(text, filename, **options)
    result = validate(canonicalize(parsed.job))
    if result.errors:
        diagnostics = []
        for error in result.errors:
            pos = parsed.position(f"Job.{error.path}" if error.path else "Job")
            diagnostics.append(Diagnostic(filename, pos.line, pos.column, error.message))
        raise JobspecError(diagnostics)
    return parsed, result.warnings

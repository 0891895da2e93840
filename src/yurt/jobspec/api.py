"""The bodies of Nomad's `POST /v1/jobs/parse` and `PUT /v1/validate/job` answers.

The scheduler wires these to its routes; bad input raises APIError(400) with the reason.
"""

from __future__ import annotations

from typing import Any

from yurt.api.errors import APIError
from yurt.jobspec.canonical import canonicalize
from yurt.jobspec.diagnostics import JobspecError
from yurt.jobspec.parse import parse_job
from yurt.jobspec.validate import validate


def parse_request(body: dict[str, Any]) -> dict[str, Any]:
    """`POST /v1/jobs/parse` {"JobHCL": ..., "Canonicalize": bool, "Variables": ...} -> job."""
    if not isinstance(body, dict):
        raise APIError.bad_request("request body must be a JSON object")
    hcl = body.get("JobHCL")
    if not isinstance(hcl, str) or not hcl.strip():
        raise APIError.bad_request("Job HCL must be provided in JobHCL")
    if body.get("HCLv1"):
        raise APIError.bad_request("HCL1 job files are not supported; use HCL2")
    variables = body.get("Variables") or ""
    if not isinstance(variables, str):
        raise APIError.bad_request("Variables must be a string of HCL var-file content")
    flags = body.get("VariableFlags") or {}
    if not isinstance(flags, dict):
        raise APIError.bad_request("VariableFlags must be an object of name to value")
    var_files = []
    tmp = None
    if variables.strip():
        import tempfile
        from pathlib import Path

        tmp = tempfile.NamedTemporaryFile("w", suffix=".hcl", delete=False)  # noqa: SIM115
        tmp.write(variables)
        tmp.close()
        var_files.append(Path(tmp.name))
    try:
        job = parse_job(
            hcl,
            "input.hcl",
            variables={str(k): str(v) for k, v in flags.items()},
            var_files=var_files,
        )
    except JobspecError as exc:
        raise APIError.bad_request(str(exc)) from None
    finally:
        if tmp is not None:
            import os

            os.unlink(tmp.name)
    if body.get("Canonicalize"):
        job = _client_canonical(job)
    return job


async def parse_request_isolated(body: Any) -> dict[str, Any]:
    """`parse_request` in a worker with a deadline (`yurt.jobspec.isolate`): what the
    scheduler's `POST /v1/jobs/parse` calls, so that no job file stalls the event loop."""
    from yurt.jobspec.isolate import run_isolated

    await _warm_up()
    result: dict[str, Any] = await run_isolated(parse_request, body)
    return result


_warm = False


async def _warm_up() -> None:
    """Build the HCL parser once in the server, so that each forked worker inherits it
    instead of spending a few hundred milliseconds building it again."""
    global _warm
    if _warm:
        return
    import asyncio

    from yurt.jobspec.syntax import parse_body

    await asyncio.to_thread(parse_body, "x = 1\n", "warm-up.hcl")
    _warm = True


async def validate_request_isolated(body: Any) -> dict[str, Any]:
    """`validate_request` in a worker with a deadline, for `PUT /v1/validate/job`."""
    from yurt.jobspec.isolate import run_isolated

    result: dict[str, Any] = await run_isolated(validate_request, body)
    return result


def _client_canonical(job: dict[str, Any]) -> dict[str, Any]:
    """The parse endpoint canonicalizes with the API library's rules only: the server's
    own defaults (node pool, the "*" datacenter, submit time) come later, on register."""
    full = canonicalize(job)
    full["NodePool"] = job.get("NodePool") or ""
    full["Datacenters"] = job.get("Datacenters")
    full["SubmitTime"] = job.get("SubmitTime")
    full["DispatchIdempotencyToken"] = job.get("DispatchIdempotencyToken")
    if job.get("Update") is None and full["Type"] != "service":
        full["Update"] = None
    return full


def validate_request(body: dict[str, Any]) -> dict[str, Any]:
    """`PUT /v1/validate/job` {"Job": {...}} -> JobValidateResponse."""
    if not isinstance(body, dict):
        raise APIError.bad_request("request body must be a JSON object")
    job = body.get("Job")
    if not isinstance(job, dict):
        raise APIError.bad_request("Job must be specified")
    result = validate(job)
    # True as a Nomad server answers it: the job was validated by the agent, so the CLI
    # does not print "Driver configuration not validated since connection to Nomad agent
    # couldn't be established" (each driver checks its own config when the task starts).
    return {
        "DriverConfigValidated": True,
        "ValidationErrors": [e.message for e in result.errors] or None,
        "Error": result.error_text(),
        "Warnings": "\n".join(result.warnings),
    }

"""The calls into `yurt.jobspec`: Nomad's defaults and validation on register, and the
bodies of `POST /v1/jobs/parse` and `PUT /v1/validate/job`. Kept in one place so the
scheduler depends on the jobspec package through four functions only."""

from __future__ import annotations

from typing import Any

from yurt import jobspec
from yurt.jobspec import api as jobspec_api

# A job as the request gave it, before it is canonical and checked: free-form JSON.
Obj = dict[str, Any]


def canonicalize(job: Obj) -> Obj:
    result: Obj = jobspec.canonicalize(job)
    return result


def validate(job: Obj) -> tuple[str, list[str]]:
    """(Nomad's multierror text, or "" when valid; warnings)."""
    result = jobspec.validate(job)
    return result.error_text(), list(result.warnings)


async def parse_request(body: Any) -> Obj:
    """In a worker with a deadline: no job file stalls the other roles' event loop."""
    return await jobspec_api.parse_request_isolated(body)


async def validate_request(body: Any) -> Obj:
    return await jobspec_api.validate_request_isolated(body)

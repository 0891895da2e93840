"""Nomad job files (HCL2) -> Nomad's API job JSON, its defaults, and its validation.

job = parse_job(text, "job.nginx.nomad")      # what `nomad job run -output` prints
full = canonicalize(job)                      # as GET /v1/job/:id returns it
result = validate(full)                       # the server-side checks
"""

from yurt.jobspec.canonical import canonicalize
from yurt.jobspec.diagnostics import Diagnostic, JobspecError
from yurt.jobspec.parse import ParsedJob, check_job, load_job, parse_job
from yurt.jobspec.validate import ValidationError, ValidationResult, validate

__all__ = [
    "Diagnostic",
    "JobspecError",
    "ParsedJob",
    "ValidationError",
    "ValidationResult",
    "canonicalize",
    "check_job",
    "load_job",
    "parse_job",
    "validate",
]

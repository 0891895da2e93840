"""The scheduler's domain errors: what an operation refuses, in Nomad's words.

Operations raise these and know nothing of HTTP; the API layer maps each kind to its status
once (`yurt.scheduler.api_common.STATUS_OF`), as Nomad's RPC errors become HTTP codes in its
`command/agent/http.go`.
"""

from __future__ import annotations


class SchedulerError(Exception):
    """A refusal; `message` is the text the user sees."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidRequest(SchedulerError):
    """The request cannot be done as asked (Nomad answers 400)."""


class NotFound(SchedulerError):
    """What the request names does not exist (404)."""


class Conflict(SchedulerError):
    """A check-and-set index does not match (409)."""


class PermissionDenied(SchedulerError):
    """A secret does not match (403)."""

"""Errors that become HTTP responses.

Consul and Nomad answer errors as plain text with the status code, e.g. 404 "job not found";
clients show that text to the user, so it says what was wrong and what was expected.
"""

from __future__ import annotations


class APIError(Exception):
    """An error with the HTTP status it is answered with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    @classmethod
    def bad_request(cls, message: str) -> APIError:
        return cls(400, message)

    @classmethod
    def not_found(cls, message: str) -> APIError:
        return cls(404, message)

    @classmethod
    def conflict(cls, message: str) -> APIError:
        return cls(409, message)

    @classmethod
    def too_large(cls, message: str) -> APIError:
        return cls(413, message)

"""The errors of a call to Consul's HTTP API (importable without the HTTP client)."""

from __future__ import annotations


class ConsulError(Exception):
    """A call to Consul failed: no answer (this class), or an error status (`ConsulAPIError`)."""

    def __init__(self, method: str, path: str, message: str) -> None:
        super().__init__(f"{method} {path}: {message}")
        self.method = method
        self.path = path


class ConsulAPIError(ConsulError):
    """Consul answered with an error status; `body` is its text (Consul's error message)."""

    def __init__(self, method: str, path: str, status: int, body: str) -> None:
        super().__init__(method, path, f"{status} {body}")
        self.status = status
        self.body = body


class ConsulUnreachable(ConsulError):
    """No answer at all: the catalog at `base_url` could not be reached; `cause` says why."""

    def __init__(self, method: str, path: str, base_url: str, cause: str) -> None:
        super().__init__(method, path, f"catalog at {base_url} unreachable: {cause}")
        self.base_url = base_url
        self.cause = cause

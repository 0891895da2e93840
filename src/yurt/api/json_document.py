"""Reading a document that must be one JSON object (Consul's ACL rules, Nomad's ACL
policies), with the place of a syntax error named as file:line:column."""

from __future__ import annotations

import json
from typing import Any


class DocumentError(ValueError):
    """Why the text is not a JSON object; the caller prefixes its product's wording."""


def load_object(text: str, where: str) -> dict[str, Any]:
    """The JSON object in `text` (`where` names it in errors); DocumentError otherwise."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DocumentError(f"{where}:{exc.lineno}:{exc.colno}: {exc.msg}") from None
    if not isinstance(data, dict):
        raise DocumentError("expected a JSON object")
    return data

"""Request paths as the lookup sees them: percent-decoded and cleaned."""

from __future__ import annotations

from urllib.parse import unquote


def clean_path(path: str) -> str:
    """Go's path.Clean, keeping a trailing slash (as net/http's cleanPath does)."""
    if not path:
        return "/"
    if path[0] != "/":
        path = "/" + path
    out: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if out:
                out.pop()
            continue
        out.append(part)
    cleaned = "/" + "/".join(out)
    trailing = path.endswith(("/", "/.", "/.."))
    if trailing and cleaned != "/":
        cleaned += "/"
    return cleaned


def lookup_path(raw: str) -> str:
    """The decoded, cleaned form of a raw request path; the fast path returns it unchanged."""
    path = unquote(raw) if "%" in raw else raw
    if "//" in path or "/." in path or not path.startswith("/"):
        path = clean_path(path)
    return path

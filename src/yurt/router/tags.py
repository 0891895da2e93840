"""Service tags -> route commands, as Fabio's Consul backend generates them.

`urlprefix-[host]/path [opt=value ...]`, `urlprefix-:port proto=tcp` and
`urlprefix-host[:port]` (no path: the route of `host` with path `/`). Tags are trimmed
before their prefix is tested; `$x` and `${x}` in the host and path expand as Go's
`os.Expand` does from the variables Fabio gives (`DC`, the datacenter), unset ones to the
empty string. The host is lower-cased, the path keeps its case. The service's other tags
(those without the prefix) become the route's tags.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from yurt.router.commands import quote


class TagError(ValueError):
    """One bad tag of one service: reported and skipped, never fatal to the table."""


@dataclass(frozen=True, slots=True)
class URLPrefix:
    route: str  # "host/path", ":port" or "host:port" (Fabio reads it as "host:port/")
    opts: str


_SHELL_SPECIAL = frozenset("*#$@!?-0123456789")


def _is_name_char(c: str) -> bool:
    return c == "_" or ("0" <= c <= "9") or ("a" <= c <= "z") or ("A" <= c <= "Z")


def _shell_name(s: str) -> tuple[str, int]:
    """Go's getShellName: the variable name after a `$` and how many characters it takes.

    ("", n > 0) is bad syntax whose n characters are dropped; ("", 0) leaves the `$`.
    """
    if s[0] == "{":
        if len(s) > 2 and s[1] in _SHELL_SPECIAL and s[2] == "}":
            return s[1], 3
        end = s.find("}", 1)
        if end == 1:
            return "", 2
        if end < 0:
            return "", 1
        return s[1:end], end + 1
    if s[0] in _SHELL_SPECIAL:
        return s[0], 1
    i = 0
    while i < len(s) and _is_name_char(s[i]):
        i += 1
    return s[:i], i


def expand(s: str, env: Mapping[str, str] | None) -> str:
    """Go's os.Expand with Fabio's mapping: `$x` and `${x}` to env[x], unset ones to ""."""
    out: list[str] = []
    i = j = 0
    while j < len(s):
        if s[j] == "$" and j + 1 < len(s):
            out.append(s[i:j])
            name, width = _shell_name(s[j + 1 :])
            if name:
                out.append((env or {}).get(name, ""))
            elif width == 0:
                out.append("$")
            j += width
            i = j + 1
        j += 1
    return "".join(out) + s[i:]


def parse_urlprefix(
    tag: str, prefix: str, env: Mapping[str, str] | None = None
) -> URLPrefix | None:
    """The route and options of a tag, None if the tag does not have the prefix.

    TagError if it has the prefix but no route at all (`urlprefix-`): Fabio generates a
    command without a source that its parser rejects.
    """
    s = tag.strip()
    if not s.startswith(prefix):
        return None
    s = s[len(prefix) :].strip()
    # Fabio splits at the first space only; the options are read word by word later.
    route, _, opts = s.partition(" ")
    opts = opts.strip()
    if not route:
        raise TagError(f"invalid {prefix} tag {tag!r}: the route must not be empty")
    if route.startswith(":") or "/" not in route:
        # `:port` (a TCP listener) or `host[:port]`: taken as written, not expanded; the
        # table lower-cases the host and reads `host` as `host/`.
        return URLPrefix(route, opts)
    host, _, path = route.partition("/")
    expanded = expand(host, env).lower() + "/" + expand(path, env)
    if any(c.isspace() for c in expanded):
        # Fabio would write it into a `route add` line, whose words it then misreads.
        raise TagError(
            f"invalid {prefix} tag {tag!r}: its route expands to {expanded!r}, which holds a space"
        )
    return URLPrefix(expanded, opts)


def _join_host_port(host: str, port: int) -> str:
    try:
        if ipaddress.ip_address(host).version == 6:
            return f"[{host}]:{port}"
    except ValueError:
        pass
    return f"{host}:{port}"


def service_commands(
    instance: Mapping[str, Any],
    prefix: str,
    env: Mapping[str, str] | None = None,
    errors: list[str] | None = None,
) -> list[str]:
    """`route add` lines for one instance (a `/v1/catalog/service/:name` entry).

    A bad tag or option is appended to `errors` and skipped; the other tags still route.
    """
    name = str(instance.get("ServiceName", ""))
    # Trimmed before the prefix is tested: " urlprefix-/x" routes and is no service tag.
    tags: list[str] = [str(t).strip() for t in instance.get("ServiceTags") or ()]
    addr = str(instance.get("ServiceAddress") or instance.get("Address") or "")
    port = int(instance.get("ServicePort") or 0)
    other = [t for t in tags if not t.startswith(prefix)]
    out: list[str] = []
    for tag in tags:
        try:
            parsed = parse_urlprefix(tag, prefix, env)
        except TagError as exc:
            if errors is not None:
                errors.append(f"service {name!r} ({instance.get('ServiceID', '')}): {exc}")
            continue
        if parsed is None:
            continue
        try:
            out.append(_command(name, addr, port, parsed, other))
        except TagError as exc:
            if errors is not None:
                errors.append(f"service {name!r} ({instance.get('ServiceID', '')}): {exc}")
    return out


def _command(name: str, addr: str, port: int, p: URLPrefix, other: Iterable[str]) -> str:
    hostport = _join_host_port(addr, port)
    dst = f"http://{hostport}/"
    weight = ""
    opts: list[str] = []
    for o in p.opts.split():
        if o == "proto=tcp":
            dst = f"tcp://{hostport}"
        elif o == "proto=https":
            dst = f"https://{hostport}"
        elif o.startswith("weight="):
            weight = o[len("weight=") :]
            try:
                float(weight)
            except ValueError:
                raise TagError(f"invalid weight {weight!r} in {o!r}: expected a number") from None
        elif o.startswith("redirect="):
            code, sep, url = o[len("redirect=") :].partition(",")
            if not sep or not url:
                raise TagError(f"invalid redirect {o!r}: expected redirect=<code>,<url>")
            dst = url
            opts.append(f"redirect={code}")
        else:
            opts.append(o)
    if any(ch in name for ch in ' \t"') or not name:
        raise TagError(f"service name {name!r} cannot be routed")
    cmd = f"route add {name} {p.route} {dst}"
    if weight:
        cmd += f" weight {weight}"
    joined = ",".join(other)
    if joined:
        if '"' in joined:
            raise TagError(f"tags {joined!r} contain a double quote")
        cmd += " tags " + quote(joined)
    if opts:
        cmd += " opts " + quote(" ".join(opts))
    return cmd

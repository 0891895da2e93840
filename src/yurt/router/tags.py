"""Service tags -> route commands, as Fabio's Consul backend generates them.

`urlprefix-[host]/path [opt=value ...]` and `urlprefix-:port proto=tcp`. The host is
lower-cased, the path keeps its case, `$DC` expands to the datacenter. The service's other
tags (those without the prefix) become the route's tags.
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
    route: str  # "host/path", ":port" or "ip:port" (a TCP route for tcp-dynamic listeners)
    opts: str


def _is_host_port(text: str) -> bool:
    host, sep, port = text.rpartition(":")
    return bool(sep and host and port.isdigit())


def parse_urlprefix(
    tag: str, prefix: str, env: Mapping[str, str] | None = None
) -> URLPrefix | None:
    """The route and options of a tag, None if the tag does not have the prefix.

    TagError if it has the prefix but no trailing slash after the host.
    """
    s = tag.strip()
    if env:
        for key, value in env.items():
            s = s.replace("$" + key, value)
    if not s.startswith(prefix):
        return None
    s = s[len(prefix) :].strip()
    route, _, opts = s.partition(" ")
    opts = opts.strip()
    if route.startswith(":"):
        return URLPrefix(route, opts)
    if "/" not in route and "proto=tcp" in opts.split() and _is_host_port(route):
        # `urlprefix-10.0.0.1:1234 proto=tcp`: Fabio's TCP dynamic proxy listens there.
        return URLPrefix(route.lower(), opts)
    host, sep, path = route.partition("/")
    if not sep:
        raise TagError(f"invalid {prefix} tag {tag!r}: you need to have a trailing slash")
    return URLPrefix(host.lower() + "/" + path, opts)


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
    tags: list[str] = [str(t) for t in instance.get("ServiceTags") or ()]
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

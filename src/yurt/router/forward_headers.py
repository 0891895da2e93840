"""What the router adds to a request it forwards, as Fabio's `proxy/http_headers.go` does:
the upstream request line (`strip=`, `prepend=` and the target's own query), Host (`host=`),
and the forwarding headers (X-Forwarded-For/Proto/Port/Host/Prefix, Forwarded, X-Real-Ip,
`proxy.header.clientip`, `proxy.header.tls`).

Pure: a request's header reading (`HeadLines`), its target's bytes (`TargetBytes`) and the
listener's own lines (`ListenerLines`) in, header bytes out; tested by tables.
"""

from __future__ import annotations

from yurt.router.request_head import HeadLines
from yurt.router.table import Target

# Host values longer than this are not kept in a listener's cache of their lines.
KEY_LIMIT = 1024
_HOSTS_LIMIT = 8192


def target_address(t: Target | None) -> str:
    """The access log's `$upstream_addr`."""
    return f"{t.host}:{t.port}" if t is not None else ""


class TargetBytes:
    """What a target adds to a request, encoded once per table."""

    __slots__ = (
        "access_rules",
        "auth",
        "host",
        "netloc",
        "prefix_line",
        "prepend",
        "query",
        "rewrites",
        "strip",
        "upstream",
    )

    def __init__(self, t: Target) -> None:
        self.access_rules = t.has_access_rules
        self.auth = t.auth_scheme
        self.upstream = target_address(t)
        strip: bytes | None = None
        if t.strip_path:
            try:
                strip = t.strip_path.encode("latin-1")
            except UnicodeEncodeError:
                strip = None  # cannot prefix a path received as bytes
        self.strip = strip
        self.prefix_line = (
            b"X-Forwarded-Prefix: " + t.strip_path.encode() + b"\r\n" if t.strip_path else b""
        )
        self.prepend = t.prepend_path.encode()
        self.query = t.url_query.encode()
        # Whether the request target changes on the way (else the path and query pass).
        self.rewrites = bool(strip or self.prepend or self.query)
        self.netloc = t.netloc.encode()
        if t.host_header == "dst":
            self.host: bytes | None = t.netloc.encode()
        elif t.host_header:
            self.host = t.host_header.encode()
        else:
            self.host = None


class ListenerLines:
    """What a listener puts in the forwarding headers whatever the request: the scheme and
    port it serves, `proxy.header.clientip`, `proxy.localip` and `proxy.header.tls`; and
    the X-Forwarded-Port/Host lines of the Host values it has seen."""

    __slots__ = ("_hosts", "client_ip_header", "default_port", "local_ip", "tls_line")

    def __init__(
        self,
        *,
        tls: bool = False,
        client_ip_header: str = "",
        local_ip: str = "",
        tls_line: bytes = b"",
    ) -> None:
        self.default_port = b"443" if tls else b"80"
        self.client_ip_header = client_ip_header.encode()
        self.local_ip = local_ip.encode()
        self.tls_line = tls_line
        self._hosts: dict[bytes, tuple[bytes, bytes]] = {}

    def host_lines(self, host: bytes) -> tuple[bytes, bytes]:
        """(`X-Forwarded-Port` line, `X-Forwarded-Host` line or b"") for a Host value."""
        lines = self._hosts.get(host)
        if lines is None:
            colon = host.rfind(b":")
            port = (
                host[colon + 1 :]
                if 0 < colon < len(host) - 1 and b"]" not in host[colon:]
                else self.default_port
            )
            lines = (
                b"X-Forwarded-Port: " + port + b"\r\n",
                b"X-Forwarded-Host: " + host + b"\r\n" if host else b"",
            )
            if len(host) > KEY_LIMIT:
                return lines
            if len(self._hosts) >= _HOSTS_LIMIT:
                self._hosts.clear()
            self._hosts[host] = lines
        return lines


def request_scheme(xfproto: bytes, forwarded: bytes, default: str) -> str:
    """The scheme the forwarding headers name: the client's X-Forwarded-Proto or Forwarded
    `proto=` when it sent one of them (not both), else the listener's `default`."""
    if xfproto and not forwarded:
        return xfproto.decode("latin-1")
    if forwarded and not xfproto:
        _, sep, rest = forwarded.decode("latin-1").partition("proto=")
        if sep:
            return rest.split(";", 1)[0].strip()
    return default


def upstream_target(t: TargetBytes, raw_path: bytes, query: bytes) -> bytes:
    """The upstream request target: `strip=` taken off the path, `prepend=` put before it,
    the target's own query before the client's."""
    up_path = raw_path
    if t.strip and raw_path.startswith(t.strip):
        up_path = raw_path[len(t.strip) :]
        if up_path[:1] != b"/":
            up_path = b"/" + up_path
    if t.prepend:
        up_path = t.prepend + up_path
        if up_path[:1] != b"/":
            up_path = b"/" + up_path
    if t.query:
        query = t.query + (b"&" + query if query else b"")
    if query:
        up_path += b"?" + query
    return up_path


def forward_headers(
    t: TargetBytes,
    h: HeadLines,
    host: bytes,
    remote: bytes,
    scheme: str,
    version: str,
    websocket: bool,
    lines: ListenerLines,
) -> bytes:
    """Host and the forwarding headers as Fabio sets them, given what the client sent (`h`),
    the Host the request is routed by, the client's address and the request's scheme."""
    out: list[bytes] = []
    # No Host from the client (HTTP/1.0, or an empty one): the target's, as Go's
    # transport sends, since an HTTP/1.1 request must carry one.
    up_host = t.host if t.host is not None else host or t.netloc
    if up_host:
        out += (b"Host: ", up_host, b"\r\n")
    xff = h.xff
    if websocket:
        out += (b"X-Forwarded-For: ", remote, b"\r\nConnection: Upgrade\r\nUpgrade: ")
        out += (h.upgrade, b"\r\n")
    elif xff:
        out += (b"X-Forwarded-For: ", xff, b", ", remote, b"\r\n")
    else:
        out += (b"X-Forwarded-For: ", remote, b"\r\n")
    if not h.real_ip:
        out += (b"X-Real-Ip: ", remote, b"\r\n")
    if lines.client_ip_header:
        out += (lines.client_ip_header, b": ", remote, b"\r\n")
    if lines.tls_line:
        out.append(lines.tls_line)
    if not h.xfproto:
        if scheme == "http" or scheme == "ws":
            out.append(b"X-Forwarded-Proto: http\r\n")
        else:
            out += (b"X-Forwarded-Proto: ", b"https" if scheme == "wss" else scheme.encode())
            out.append(b"\r\n")
    xfport = h.xfport
    xfhost = h.xfhost
    if not xfport or not xfhost:
        port_line, host_line = lines.host_lines(host)
        if not xfport:
            out.append(port_line)
        if not xfhost:
            out.append(host_line)
    if t.prefix_line:
        out.append(t.prefix_line)
    elif h.xfprefix:
        out += (b"X-Forwarded-Prefix: ", h.xfprefix, b"\r\n")
    if h.forwarded:
        out += (b"Forwarded: ", h.forwarded)
    else:
        out += (b"Forwarded: for=", remote, b"; proto=", scheme.encode())
    if lines.local_ip:
        out += (b"; by=", lines.local_ip)
    out += (b"; httpproto=http/", version.encode(), b"\r\n")
    return b"".join(out)

"""Fabio's certificate sources (`proxy.cs`) for `proto=https` listeners.

`proxy.cs` is a comma-separated list of `cs=NAME;type=TYPE;opt=value;...`. These types are
read, as Fabio reads them:

- `type=file;cert=PATH[;key=PATH][;clientca=PATH]`: one certificate (the key may be in the
  certificate file), loaded at start;
- `type=path;cert=DIR[;clientca=PATH]`: every certificate in a directory, as
  `NAME.pem` (certificate and key) or `NAME-cert.pem` and `NAME-key.pem`, chosen by the
  server name the client asks for (SNI: the certificate file's name, then a `*.` wildcard
  one); the first in alphabetical order serves clients that send none;
- `type=consul;cert=http://host:8500/v1/kv/PREFIX`: the same files as KV keys under a
  prefix, followed with blocking queries (`yurt.router.consul_certs`);
- `type=http;cert=URL-OF-A-LIST-FILE`: the same files on an HTTP server, named by a list
  file (`yurt.router.http_certs`).

`clientca` makes the listener ask for, and check, a client certificate. A `path` source
is looked at again every `refresh` (3 s by default, at least 1 s, `refresh=0`: never) and read
again when its files changed (added, removed, rewritten), for the connections that come
after; `file` sources are read once, as in Fabio.
"""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass
from pathlib import Path

from yurt.api.durations import SECOND, parse_go_duration
from yurt.router.config_values import ConfigError

log = logging.getLogger(__name__)

_TLS_VERSIONS = {
    "ssl30": ssl.TLSVersion.SSLv3,
    "tls10": ssl.TLSVersion.TLSv1,
    "tls11": ssl.TLSVersion.TLSv1_1,
    "tls12": ssl.TLSVersion.TLSv1_2,
    "tls13": ssl.TLSVersion.TLSv1_3,
    # Fabio also takes Go's numbers, in hex: 0x0301 is TLS 1.0
    "0x0300": ssl.TLSVersion.SSLv3,
    "0x0301": ssl.TLSVersion.TLSv1,
    "0x0302": ssl.TLSVersion.TLSv1_1,
    "0x0303": ssl.TLSVersion.TLSv1_2,
    "0x0304": ssl.TLSVersion.TLSv1_3,
}


@dataclass(frozen=True)
class CertSource:
    name: str
    type: str
    cert: str
    key: str = ""
    clientca: str = ""
    refresh: float = 0.0  # seconds; `path` and `http` sources
    headers: tuple[tuple[str, str], ...] = ()  # `hdr=Name: value` of an `http` source


def parse_cert_sources(text: str) -> dict[str, CertSource]:
    out: dict[str, CertSource] = {}
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        opts: dict[str, str] = {}
        for part in item.split(";"):
            k, _, v = part.strip().partition("=")
            opts[k] = v
        name = opts.get("cs", "")
        if not name:
            raise ConfigError(f"proxy.cs: {item!r}: every source needs cs=NAME")
        kind = opts.get("type", "")
        if kind not in ("file", "path", "consul", "http"):
            raise ConfigError(
                f"proxy.cs: {name}: type={kind!r} is not supported "
                "(yurt reads type=file, path, consul and http; not vault)"
            )
        if not opts.get("cert"):
            raise ConfigError(f"proxy.cs: {name}: cert= is missing")
        if name in out:
            raise ConfigError(f"proxy.cs: {name}: defined twice")
        key, clientca = opts.get("key", ""), opts.get("clientca", "")
        # Fabio: a path source is looked at every 3 s unless told otherwise (0: never), and
        # not more often than every second.
        refresh = 3.0 if kind in ("path", "http") else 0.0
        if opts.get("refresh") and kind in ("path", "http"):
            try:
                refresh = parse_go_duration(opts["refresh"]) / SECOND
            except ValueError as exc:
                raise ConfigError(f"proxy.cs: {name}: refresh: {exc}") from None
            if 0 < refresh < 1:
                refresh = 1.0
        headers: list[tuple[str, str]] = []
        for part in item.split(";"):
            k, _, v = part.strip().partition("=")
            if k == "hdr":
                hname, sep, hvalue = v.partition(": ")
                if not sep or not hname:
                    raise ConfigError(
                        f"proxy.cs: {name}: invalid header {v!r}: expected 'Name: value'"
                    )
                headers.append((hname, hvalue))
        out[name] = CertSource(name, kind, opts["cert"], key, clientca, refresh, tuple(headers))
    return out


# Go's names of the TLS 1.0-1.2 cipher suites (what Fabio's `tlsciphers` takes) and their
# IANA numbers; OpenSSL knows them by number (`SSLContext.get_ciphers()`, low 16 bits of id).
_GO_CIPHERS = {
    "TLS_RSA_WITH_RC4_128_SHA": 0x0005,
    "TLS_RSA_WITH_3DES_EDE_CBC_SHA": 0x000A,
    "TLS_RSA_WITH_AES_128_CBC_SHA": 0x002F,
    "TLS_RSA_WITH_AES_256_CBC_SHA": 0x0035,
    "TLS_RSA_WITH_AES_128_CBC_SHA256": 0x003C,
    "TLS_RSA_WITH_AES_128_GCM_SHA256": 0x009C,
    "TLS_RSA_WITH_AES_256_GCM_SHA384": 0x009D,
    "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA": 0xC007,
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": 0xC009,
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": 0xC00A,
    "TLS_ECDHE_RSA_WITH_RC4_128_SHA": 0xC011,
    "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA": 0xC012,
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": 0xC013,
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": 0xC014,
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256": 0xC023,
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256": 0xC027,
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": 0xC02F,
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": 0xC02B,
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": 0xC030,
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": 0xC02C,
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305": 0xCCA8,
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": 0xCCA8,
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305": 0xCCA9,
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": 0xCCA9,
}


def _set_ciphers(ctx: ssl.SSLContext, text: str) -> None:
    """Fabio's `tlsciphers`: Go names or numbers (`0xc02f`), comma-separated. As in Go, they
    choose among the TLS 1.0-1.2 suites; TLS 1.3's are not configurable."""
    by_number = {c["id"] & 0xFFFF: c["name"] for c in ctx.get_ciphers()}
    names = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        number = _GO_CIPHERS.get(item.upper())
        if number is None:
            try:
                number = int(item, 0)
            except ValueError:
                raise ConfigError(
                    f"proxy.addr: tlsciphers: unknown cipher suite {item!r}"
                ) from None
        name = by_number.get(number)
        if name is None:
            raise ConfigError(
                f"proxy.addr: tlsciphers: {item!r} is not available in this OpenSSL "
                "(or is a TLS 1.3 suite, which cannot be chosen)"
            )
        names.append(name)
    if names:
        ctx.set_ciphers(":".join(names))


def check_ciphers(text: str) -> None:
    """ConfigError when `tlsciphers` names a suite this OpenSSL cannot use."""
    _set_ciphers(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER), text)


def _context(tls_min: str, tls_max: str, clientca: str, ciphers: str = "") -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if ciphers:
        _set_ciphers(ctx, ciphers)
    for value, attr in ((tls_min, "minimum_version"), (tls_max, "maximum_version")):
        if value:
            version = _TLS_VERSIONS.get(value.lower())
            if version is None:
                raise ConfigError(
                    f"proxy.addr: tls version {value!r}: expected tls10, tls11, tls12, tls13 "
                    "or a hex number such as 0x0303"
                )
            setattr(ctx, attr, version)
    if clientca:
        try:
            ctx.load_verify_locations(cafile=clientca)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"proxy.cs: clientca {clientca}: {exc}") from None
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def _load(ctx: ssl.SSLContext, source: str, cert: str, key: str) -> None:
    try:
        ctx.load_cert_chain(cert, key or None)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"proxy.cs: {source}: loading {cert}: {exc}") from None


def _pairs(directory: Path) -> list[tuple[str, str, str]]:
    """(server name, certificate file, key file or "") in alphabetical order."""
    if not directory.is_dir():
        raise ConfigError(f"proxy.cs: cert={directory} is not a directory")
    out = []
    for path in sorted(directory.iterdir()):
        name = path.name
        if name.endswith("-cert.pem"):
            host = name[: -len("-cert.pem")]
            key = path.with_name(host + "-key.pem")
            out.append((host, str(path), str(key) if key.exists() else ""))
        elif name.endswith(".pem") and not name.endswith("-key.pem"):
            out.append((name[: -len(".pem")], str(path), ""))
    return out


class CertStore:
    """A listener's certificates: its TLS context and, for a `path` source, the certificate
    chosen per server name (SNI), which `refresh()` reads again when the files change."""

    def __init__(
        self, source: CertSource, tls_min: str = "", tls_max: str = "", ciphers: str = ""
    ) -> None:
        self.source = source
        self._tls = (tls_min, tls_max)
        self._ciphers = ciphers
        self.context = _context(tls_min, tls_max, source.clientca, ciphers)
        self._by_name: dict[str, ssl.SSLContext] = {}
        self._seen: tuple[tuple[str, float, int], ...] = ()
        if source.type == "file":
            _load(self.context, source.name, source.cert, source.key)
            return
        self._read()
        self.context.sni_callback = self._choose

    def _read(self) -> None:
        source = self.source
        pairs = _pairs(Path(source.cert))
        if not pairs:
            raise ConfigError(f"proxy.cs: {source.name}: no certificates in {source.cert}")
        seen = _stamp(pairs)
        by_name: dict[str, ssl.SSLContext] = {}
        for host, cert, key in pairs:
            one = _context(*self._tls, source.clientca, self._ciphers)
            _load(one, source.name, cert, key)
            by_name[host.lower()] = one
        # The default, for clients without SNI: the first in alphabetical order.
        _load(self.context, source.name, pairs[0][1], pairs[0][2])
        self._by_name = by_name
        self._seen = seen

    def refresh(self) -> bool:
        """Read a `path` source again if its files changed; True when it was. A directory
        that cannot be read now keeps the certificates read before (and is logged)."""
        if self.source.type != "path":
            return False
        try:
            if _stamp(_pairs(Path(self.source.cert))) == self._seen:
                return False
            self._read()
        except (ConfigError, OSError) as exc:
            log.warning(
                "proxy.cs: %s: keeping the certificates read before: %s", self.source.name, exc
            )
            return False
        log.info(
            "proxy.cs: %s: certificates read again (%d names)", self.source.name, len(self._by_name)
        )
        return True

    def _choose(self, sock: ssl.SSLObject, server_name: str | None, _: ssl.SSLContext) -> None:
        if not server_name:
            return
        by_name = self._by_name
        name = server_name.lower()
        chosen = by_name.get(name)
        if chosen is None and "." in name:
            chosen = by_name.get("*." + name.split(".", 1)[1])
        if chosen is not None:
            sock.context = chosen


def _stamp(pairs: list[tuple[str, str, str]]) -> tuple[tuple[str, float, int], ...]:
    """What tells that a directory's certificates changed: names, times and sizes."""
    out = []
    for _, cert, key in pairs:
        for path in (cert, key):
            if path:
                st = Path(path).stat()
                out.append((path, st.st_mtime, st.st_size))
    return tuple(out)

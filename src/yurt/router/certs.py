"""Fabio's certificate sources (`proxy.cs`) for `proto=https` listeners.

`proxy.cs` is a comma-separated list of `cs=NAME;type=TYPE;opt=value;...`. Two types are
read, as Fabio reads them:

- `type=file;cert=PATH[;key=PATH][;clientca=PATH]`: one certificate (the key may be in the
  certificate file), loaded at start;
- `type=path;cert=DIR[;clientca=PATH]`: every certificate in a directory, as
  `NAME.pem` (certificate and key) or `NAME-cert.pem` and `NAME-key.pem`, chosen by the
  server name the client asks for (SNI: the certificate file's name, then a `*.` wildcard
  one); the first in alphabetical order serves clients that send none.

`clientca` makes the listener ask for, and check, a client certificate.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

from yurt.router.config import ConfigError

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
        if kind not in ("file", "path"):
            raise ConfigError(
                f"proxy.cs: {name}: type={kind!r} is not supported "
                "(yurt reads type=file and type=path; not consul, vault or http)"
            )
        if not opts.get("cert"):
            raise ConfigError(f"proxy.cs: {name}: cert= is missing")
        if name in out:
            raise ConfigError(f"proxy.cs: {name}: defined twice")
        key, clientca = opts.get("key", ""), opts.get("clientca", "")
        out[name] = CertSource(name, kind, opts["cert"], key, clientca)
    return out


def _context(tls_min: str, tls_max: str, clientca: str) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
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


def server_context(source: CertSource, tls_min: str = "", tls_max: str = "") -> ssl.SSLContext:
    """The TLS context of a listener that uses `source`."""
    ctx = _context(tls_min, tls_max, source.clientca)
    if source.type == "file":
        _load(ctx, source.name, source.cert, source.key)
        return ctx
    pairs = _pairs(Path(source.cert))
    if not pairs:
        raise ConfigError(f"proxy.cs: {source.name}: no certificates in {source.cert}")
    _load(ctx, source.name, pairs[0][1], pairs[0][2])  # the default, for clients without SNI
    by_name: dict[str, ssl.SSLContext] = {}
    for host, cert, key in pairs:
        one = _context(tls_min, tls_max, source.clientca)
        _load(one, source.name, cert, key)
        by_name[host.lower()] = one

    def choose(sock: ssl.SSLObject, server_name: str | None, _: ssl.SSLContext) -> None:
        if not server_name:
            return
        name = server_name.lower()
        chosen = by_name.get(name)
        if chosen is None and "." in name:
            chosen = by_name.get("*." + name.split(".", 1)[1])
        if chosen is not None:
            sock.context = chosen

    ctx.sni_callback = choose
    return ctx

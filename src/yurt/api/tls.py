"""TLS for the HTTP APIs: one typed config for Nomad's `tls { }`, Consul's `tls { defaults }`
and the clients' `*_CACERT`-style settings, turned into `ssl.SSLContext`s.

A listener gets `server_context()` (mutual TLS when `verify_incoming`); a caller gets
`client_context()` (the CA to trust, a client certificate if one is set). Every problem with a
file is a `TLSConfigError` that names the setting and the file, raised when the context is
built, so that an agent refuses to start rather than serving something other than asked.
"""

from __future__ import annotations

import logging
import os
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

# Nomad's and Consul's pre-1.12 spellings, and Consul 1.12+'s.
_VERSIONS: dict[str, ssl.TLSVersion] = {
    "tls10": ssl.TLSVersion.TLSv1,
    "tls11": ssl.TLSVersion.TLSv1_1,
    "tls12": ssl.TLSVersion.TLSv1_2,
    "tls13": ssl.TLSVersion.TLSv1_3,
    "tlsv1_0": ssl.TLSVersion.TLSv1,
    "tlsv1_1": ssl.TLSVersion.TLSv1_1,
    "tlsv1_2": ssl.TLSVersion.TLSv1_2,
    "tlsv1_3": ssl.TLSVersion.TLSv1_3,
}


class TLSConfigError(ValueError):
    """A TLS setting that cannot be honoured; the message names the setting and its file."""


def parse_min_version(text: str) -> ssl.TLSVersion:
    """ "tls12" (Nomad, Consul < 1.12) or "TLSv1_2" (Consul 1.12+) -> ssl.TLSVersion."""
    version = _VERSIONS.get(text.strip().lower())
    if version is None:
        raise TLSConfigError(
            f'unknown tls_min_version "{text}": expected one of "tls10", "tls11", "tls12", '
            '"tls13" (or "TLSv1_0" ... "TLSv1_3")'
        )
    return version


@dataclass(frozen=True)
class TLSConfig:
    """What to serve and what to trust.

    `http`: serve HTTPS (Nomad's `tls { http }`; for a caller: speak HTTPS). `verify_incoming`
    asks every caller for a certificate signed by the CA (Nomad's `verify_https_client`,
    Consul's `verify_incoming`). `verify_outgoing` checks a server's certificate when calling
    it (off: Nomad's `NOMAD_SKIP_VERIFY`, Consul's `verify_ssl = false`);
    `verify_server_hostname` also checks its name: `server_name` if set, else the host dialled.
    """

    http: bool = False
    cert_file: str = ""
    key_file: str = ""
    ca_file: str = ""
    ca_path: str = ""
    verify_incoming: bool = False
    verify_outgoing: bool = True
    verify_server_hostname: bool = True
    server_name: str = ""
    tls_min_version: str = "tls12"

    @property
    def scheme(self) -> str:
        return "https" if self.http else "http"

    def url(self, address: str) -> str:
        """`host:port` (or a URL, kept as given) -> a base URL with this config's scheme."""
        if "://" in address:
            return address.rstrip("/")
        return f"{self.scheme}://{address}".rstrip("/")

    def check(self) -> None:
        """Builds the contexts this config implies, so that a bad file fails at start."""
        if self.http:
            self.server_context()
            self.client_context()

    def server_context(self) -> ssl.SSLContext:
        if not self.cert_file or not self.key_file:
            missing = " and ".join(
                n for n, v in (("cert_file", self.cert_file), ("key_file", self.key_file)) if not v
            )
            raise TLSConfigError(f"serving HTTPS needs a certificate: {missing} not set")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = parse_min_version(self.tls_min_version)
        _load_pair(ctx, self.cert_file, self.key_file)
        if self.verify_incoming:
            if not self.ca_file and not self.ca_path:
                raise TLSConfigError(
                    "verifying callers' certificates (verify_https_client / verify_incoming) "
                    "needs ca_file or ca_path"
                )
            _load_ca(ctx, self.ca_file, self.ca_path)
            ctx.verify_mode = ssl.CERT_REQUIRED
        return ctx

    def client_context(self) -> ssl.SSLContext:
        ctx: ssl.SSLContext
        if self.server_name and self.verify_outgoing:
            ctx = _NamedContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.expected_name = self.server_name
        else:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = parse_min_version(self.tls_min_version)
        if self.ca_file or self.ca_path:
            _load_ca(ctx, self.ca_file, self.ca_path)
        else:
            ctx.load_default_certs()
        if self.cert_file or self.key_file:
            if not self.cert_file or not self.key_file:
                given, other = (
                    ("cert_file", "key_file") if self.cert_file else ("key_file", "cert_file")
                )
                raise TLSConfigError(
                    f"a client certificate needs both files: {given} without {other}"
                )
            _load_pair(ctx, self.cert_file, self.key_file)
        if not self.verify_outgoing:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        elif not self.verify_server_hostname:
            ctx.check_hostname = False
        return ctx


class _NamedContext(ssl.SSLContext):
    """Checks every server's certificate against one name, whatever host was dialled
    (NOMAD_TLS_SERVER_NAME, CONSUL_TLS_SERVER_NAME); the name is also sent as SNI."""

    expected_name = ""

    def wrap_socket(
        self,
        sock: socket.socket,
        server_side: bool = False,
        do_handshake_on_connect: bool = True,
        suppress_ragged_eofs: bool = True,
        server_hostname: str | bytes | None = None,
        session: ssl.SSLSession | None = None,
    ) -> ssl.SSLSocket:
        return super().wrap_socket(
            sock,
            server_side,
            do_handshake_on_connect,
            suppress_ragged_eofs,
            self.expected_name or server_hostname,
            session,
        )

    def wrap_bio(
        self,
        incoming: ssl.MemoryBIO,
        outgoing: ssl.MemoryBIO,
        server_side: bool = False,
        server_hostname: str | bytes | None = None,
        session: ssl.SSLSession | None = None,
    ) -> ssl.SSLObject:
        return super().wrap_bio(
            incoming, outgoing, server_side, self.expected_name or server_hostname, session
        )


def _readable(setting: str, path: str) -> Path:
    file = Path(path)
    if not file.exists():
        raise TLSConfigError(f'{setting} "{path}": no such file')
    if not file.is_file():
        raise TLSConfigError(f'{setting} "{path}": not a file')
    if not os.access(file, os.R_OK):
        raise TLSConfigError(f'{setting} "{path}": not readable by this process')
    return file


def _load_pair(ctx: ssl.SSLContext, cert_file: str, key_file: str) -> None:
    cert = _readable("cert_file", cert_file)
    key = _readable("key_file", key_file)
    cert_text = cert.read_bytes()
    key_text = key.read_bytes()
    if b"-----BEGIN CERTIFICATE-----" not in cert_text:
        raise TLSConfigError(f'cert_file "{cert_file}": no PEM certificate in it')
    if b"PRIVATE KEY-----" not in key_text:
        raise TLSConfigError(f'key_file "{key_file}": no PEM private key in it')
    try:
        ctx.load_cert_chain(str(cert), str(key))
    except ssl.SSLError as exc:
        if "KEY_VALUES_MISMATCH" in str(exc) or "key values mismatch" in str(exc):
            raise TLSConfigError(
                f'key_file "{key_file}" is not the key of cert_file "{cert_file}"'
            ) from None
        raise TLSConfigError(
            f'cert_file "{cert_file}" / key_file "{key_file}": {exc.reason or exc}'
        ) from None


def _load_ca(ctx: ssl.SSLContext, ca_file: str, ca_path: str) -> None:
    """ca_path as Consul and Nomad read it: every PEM file in the directory (OpenSSL's
    capath would want c_rehash'ed names, which their users do not make)."""
    files: list[tuple[str, Path]] = []
    if ca_file:
        files.append((f'ca_file "{ca_file}"', _readable("ca_file", ca_file)))
    if ca_path:
        directory = Path(ca_path)
        if not directory.is_dir():
            raise TLSConfigError(f'ca_path "{ca_path}": no such directory')
        found = [
            (f'ca_path "{ca_path}": file "{f.name}"', f)
            for f in sorted(directory.iterdir())
            if f.is_file() and b"-----BEGIN CERTIFICATE-----" in _bytes(f)
        ]
        if not found:
            raise TLSConfigError(f'ca_path "{ca_path}": no PEM certificate in any file')
        files.extend(found)
    for where, file in files:
        data = _bytes(file)
        if b"-----BEGIN CERTIFICATE-----" not in data:
            raise TLSConfigError(f"{where}: no PEM certificate in it")
        try:
            ctx.load_verify_locations(cadata=data.decode("ascii", errors="replace"))
        except ssl.SSLError as exc:
            raise TLSConfigError(f"{where}: {exc.reason or exc}") from None


def _bytes(file: Path) -> bytes:
    try:
        return file.read_bytes()
    except OSError:
        return b""


def agent_http_check(
    name: str, host: str, port: int, kind: str, tls: TLSConfig
) -> dict[str, object] | None:
    """The health check a Nomad agent registers for its own API, as Nomad's agentHTTPCheck:
    HTTPS with TLSSkipVerify when the API serves TLS, and none at all when it asks callers
    for certificates (the catalog's checker has none to present)."""
    if tls.http and tls.verify_incoming:
        logging.getLogger(__name__).warning(
            "not registering the Nomad %s HTTPS health check because verify_https_client is on",
            kind,
        )
        return None
    check: dict[str, object] = {
        "Name": name,
        "HTTP": f"{tls.scheme}://{host}:{port}/v1/agent/health?type={kind}",
        "Interval": "10s",
        "Timeout": "5s",
    }
    if tls.http:
        check["TLSSkipVerify"] = True
    return check

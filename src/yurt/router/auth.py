"""Fabio's authentication schemes (`proxy.auth`) for routes with the `auth=NAME` option.

`proxy.auth` is a comma-separated list of `name=NAME;type=basic;file=PATH[;realm=R]
[;refresh=DURATION]` or `name=NAME;type=external;endpoint=URL[;set-auth-headers="A,B"]
[;append-auth-headers="C"]`, as Fabio reads it.

An `external` scheme asks a decision endpoint about every request (a forward-auth service
such as oauth2-proxy): the request's method, path and query, headers and Host, without its
body, go to `endpoint + path`; 200 lets it through (the answer's `set-auth-headers` and
`append-auth-headers` are added to the response the client gets), 302 redirects the client
where the answer says, anything else is 401.

A `basic` scheme checks HTTP basic credentials
against an htpasswd file; the password hashes read are the ones Apache's `htpasswd` writes:
bcrypt (`-B`), Apache MD5 (`$apr1$`, the default; `$1$` too), SHA-1 (`{SHA}`, `-s`) and
salted SHA-1 (`{SSHA}`). Lines in other formats (crypt, plain text) are reported and skipped,
as Fabio does with the lines its htpasswd library does not read.

bcrypt is slow on purpose (tens of milliseconds a check), and the proxy is one event loop, so
checks run in a worker thread and their verdicts are remembered per `Authorization` value
until the file changes: a client pays for its password once, not on every request.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import bcrypt

from yurt.api.durations import SECOND, parse_go_duration
from yurt.router.config_values import ConfigError, split_unquoted

log = logging.getLogger(__name__)

_CACHE_LIMIT = 4096
"""Remembered verdicts per scheme; the cache starts over when full."""


class HtpasswdError(ValueError):
    """An htpasswd line that cannot be read: names the file and line."""


_CRYPT_ALPHABET = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def md5_crypt(password: bytes, salt: bytes, magic: bytes = b"$apr1$") -> bytes:
    """The MD5-based crypt of FreeBSD (`$1$`) and Apache (`$apr1$`): `magic salt $ hash`."""
    salt = salt[:8]
    alt = hashlib.md5(password + salt + password).digest()
    ctx = hashlib.md5(password + magic + salt)
    n = len(password)
    while n > 0:
        ctx.update(alt[: min(n, 16)])
        n -= 16
    n = len(password)
    while n:
        ctx.update(b"\0" if n & 1 else password[:1])
        n >>= 1
    final = ctx.digest()
    for i in range(1000):
        step = hashlib.md5()
        step.update(password if i & 1 else final)
        if i % 3:
            step.update(salt)
        if i % 7:
            step.update(password)
        step.update(final if i & 1 else password)
        final = step.digest()
    alphabet = _CRYPT_ALPHABET
    out = bytearray()
    for a, b, c in ((0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5)):
        v = final[a] << 16 | final[b] << 8 | final[c]
        for _ in range(4):
            out.append(alphabet[v & 0x3F])
            v >>= 6
    v = final[11]
    for _ in range(2):
        out.append(alphabet[v & 0x3F])
        v >>= 6
    return magic + salt + b"$" + bytes(out)


Verifier = Callable[[bytes], bool]


def _verifier(hashed: str) -> Verifier | None:
    """How to check a password against one htpasswd hash; None for a format not read."""
    raw = hashed.encode()
    if hashed.startswith(("$2a$", "$2b$", "$2y$")):
        return lambda pw: bcrypt.checkpw(pw, raw)
    for magic in (b"$apr1$", b"$1$"):
        if raw.startswith(magic):
            return _md5_verifier(raw, magic)
    if hashed.startswith("{SHA}"):
        try:
            digest = base64.b64decode(hashed[5:], validate=True)
        except binascii.Error:
            return None
        return lambda pw: hmac.compare_digest(hashlib.sha1(pw).digest(), digest)
    if hashed.startswith("{SSHA}"):
        try:
            blob = base64.b64decode(hashed[6:], validate=True)
        except binascii.Error:
            return None
        if len(blob) <= 20:
            return None
        digest, salt = blob[:20], blob[20:]
        return lambda pw: hmac.compare_digest(hashlib.sha1(pw + salt).digest(), digest)
    return None


def _md5_verifier(raw: bytes, magic: bytes) -> Verifier:
    salt = raw[len(magic) :].split(b"$", 1)[0]

    def verify(password: bytes) -> bool:
        return hmac.compare_digest(md5_crypt(password, salt, magic), raw)

    return verify


def read_htpasswd(path: Path) -> dict[str, Verifier]:
    """`user:hash` lines; a line that cannot be read is logged with its place and skipped."""
    users: dict[str, Verifier] = {}
    text = path.read_text(encoding="utf-8", errors="replace")
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, hashed = line.partition(":")
        verify = _verifier(hashed.strip()) if sep and user else None
        if verify is None:
            log.warning(
                "%s:%d: not read: expected user:hash with a bcrypt, $apr1$, {SHA} or {SSHA} hash",
                path,
                number,
            )
            continue
        users[user] = verify
    return users


def parse_basic_credentials(value: bytes) -> tuple[str, bytes] | None:
    """`Basic base64(user:password)` as Go's `Request.BasicAuth` reads it; None if not that."""
    scheme, _, token = value.strip().partition(b" ")
    if scheme.lower() != b"basic":
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True)
    except binascii.Error:
        return None
    user, sep, password = decoded.partition(b":")
    if not sep:
        return None
    return user.decode("utf-8", "replace"), password


@dataclass(eq=False)
class BasicAuth:
    """One `type=basic` scheme: an htpasswd file, re-read when `refresh` is set."""

    name: str
    file: str
    realm: str
    refresh: float = 0.0
    _users: dict[str, Verifier] = field(default_factory=dict, repr=False)
    _mtime: float | None = field(default=None, repr=False)
    _verdicts: dict[bytes, bool] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def load(self) -> None:
        """Read the file; raises ConfigError when it cannot be read at all."""
        path = Path(self.file)
        try:
            mtime = path.stat().st_mtime
            users = read_htpasswd(path)
        except OSError as exc:
            raise ConfigError(f"proxy.auth: {self.name}: cannot read {self.file}: {exc}") from None
        self._install(users, mtime)

    def reload_if_changed(self) -> bool:
        """Fabio's refresh: re-read when the modification time changed (either way); a file
        that has gone clears the credentials. True when something changed."""
        try:
            mtime: float | None = os.stat(self.file).st_mtime
        except OSError as exc:
            if self._mtime is None and not self._users:
                return False
            log.warning("proxy.auth: %s: cannot access %s: %s", self.name, self.file, exc)
            self._install({}, None)
            log.info("proxy.auth: %s: credentials cleared", self.name)
            return True
        if mtime == self._mtime:
            return False
        try:
            users = read_htpasswd(Path(self.file))
        except OSError as exc:
            log.warning("proxy.auth: %s: cannot reload %s: %s", self.name, self.file, exc)
            return False
        self._install(users, mtime)
        log.info("proxy.auth: %s: reloaded %s (%d users)", self.name, self.file, len(users))
        return True

    def _install(self, users: dict[str, Verifier], mtime: float | None) -> None:
        with self._lock:
            self._users = users
            self._mtime = mtime
            self._verdicts = {}

    @property
    def users(self) -> int:
        return len(self._users)

    @property
    def challenge(self) -> bytes:
        realm = self.realm.replace("\\", "\\\\").replace('"', '\\"')
        return b'WWW-Authenticate: Basic realm="' + realm.encode() + b'"\r\n'

    def known_verdict(self, authorization: bytes) -> bool | None:
        """The remembered verdict for this `Authorization` value, if any (cheap: a dict)."""
        if not authorization:
            return False
        return self._verdicts.get(authorization)

    def check(self, authorization: bytes) -> bool:
        """Check the credentials (slow for bcrypt: call it off the event loop) and remember."""
        users = self._users
        verdict = False
        creds = parse_basic_credentials(authorization)
        if creds is not None:
            verify = users.get(creds[0])
            try:
                verdict = verify is not None and verify(creds[1])
            except ValueError as exc:  # a hash bcrypt cannot read (a bad salt, ...)
                log.warning("proxy.auth: %s: user %s: %s", self.name, creds[0], exc)
        with self._lock:
            if self._users is users:  # not reloaded meanwhile
                if len(self._verdicts) >= _CACHE_LIMIT:
                    self._verdicts = {}
                self._verdicts[authorization] = verdict
        return verdict


@dataclass(frozen=True, slots=True)
class ExternalDecision:
    """What a decision endpoint said: its status, where to redirect (302), and the response
    header lines to add to the client's response (200), each as `\r\nName: value`."""

    status: int
    location: str = ""
    header_lines: bytes = b""


# Request headers not passed to the decision endpoint: its request has no body.
_NOT_FORWARDED = frozenset({b"host", b"content-length", b"transfer-encoding", b"connection"})


@dataclass(eq=False)
class ExternalAuth:
    """One `type=external` scheme: a decision endpoint asked about every request."""

    name: str
    endpoint: str
    set_headers: tuple[str, ...] = ()
    append_headers: tuple[str, ...] = ()
    _session: aiohttp.ClientSession | None = field(default=None, repr=False)

    async def decide(
        self, method: str, uri: str, host: str, headers: list[tuple[bytes, bytes]]
    ) -> ExternalDecision:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        out = [
            (n.decode("latin-1"), v.decode("latin-1"))
            for n, v in headers
            if n.lower() not in _NOT_FORWARDED
        ]
        out.append(("Host", host))
        try:
            async with self._session.request(
                method, self.endpoint + uri, headers=out, allow_redirects=False
            ) as resp:
                await resp.read()
                if resp.status == 200:
                    lines = b"".join(
                        b"\r\n" + f"{h}: {resp.headers.get(h, '')}".encode("latin-1", "replace")
                        for h in (*self.set_headers, *self.append_headers)
                    )
                    return ExternalDecision(200, header_lines=lines)
                if resp.status == 302:
                    return ExternalDecision(302, location=resp.headers.get("Location", ""))
                if resp.status != 401:
                    log.warning(
                        "auth %s: unexpected status %d, treated as unauthorized",
                        self.name,
                        resp.status,
                    )
                return ExternalDecision(401)
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            log.error("auth %s: %s: %s", self.name, self.endpoint, exc or type(exc).__name__)
            return ExternalDecision(401)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


AuthScheme = BasicAuth | ExternalAuth


def _names(text: str) -> tuple[str, ...]:
    return tuple(h.strip() for h in text.strip('"').split(",") if h.strip())


def parse_auth_schemes(text: str) -> dict[str, AuthScheme]:
    """Parse `proxy.auth` (files are not read here: see `BasicAuth.load`)."""
    out: dict[str, AuthScheme] = {}
    for item in split_unquoted(text, ","):
        item = item.strip()
        if not item:
            continue
        opts: dict[str, str] = {}
        for part in split_unquoted(item, ";"):
            k, _, v = part.strip().partition("=")
            opts[k.strip()] = v.strip()
        name = opts.get("name", "")
        if not name:
            raise ConfigError(f"proxy.auth: {item!r}: missing 'name'")
        kind = opts.get("type", "")
        if not kind:
            raise ConfigError(f"proxy.auth: missing 'type' in auth '{name}'")
        if kind == "external":
            endpoint = opts.get("endpoint", "")
            if not endpoint:
                raise ConfigError(f"proxy.auth: missing 'endpoint' in auth '{name}'")
            if endpoint.endswith("/"):
                raise ConfigError(
                    f"proxy.auth: {name}: the decision endpoint should not end with /"
                )
            if not endpoint.startswith(("http://", "https://")):
                raise ConfigError(
                    f"proxy.auth: {name}: endpoint {endpoint!r}: expected an http(s) URL"
                )
            out[name] = ExternalAuth(
                name,
                endpoint,
                _names(opts.get("set-auth-headers", "")),
                _names(opts.get("append-auth-headers", "")),
            )
            continue
        if kind != "basic":
            raise ConfigError(f"proxy.auth: unknown auth type '{kind}' in auth '{name}'")
        if not opts.get("file"):
            raise ConfigError(f"proxy.auth: missing 'file' in auth '{name}'")
        refresh = 0.0
        if opts.get("refresh"):
            try:
                refresh = parse_go_duration(opts["refresh"]) / SECOND
            except ValueError as exc:
                raise ConfigError(f"proxy.auth: {name}: refresh: {exc}") from None
            refresh = max(refresh, 1.0)  # as Fabio: not more often than every second
        out[name] = BasicAuth(name, opts["file"], opts.get("realm") or name, refresh)
    return out

"""Fabio's `proxy.auth` schemes: htpasswd files as Apache's `htpasswd` writes them, and the
`proxy.auth` grammar with its errors."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from yurt.router.auth import (
    BasicAuth,
    ExternalAuth,
    md5_crypt,
    parse_auth_schemes,
    parse_basic_credentials,
    read_htpasswd,
)
from yurt.router.config import ConfigError, RouterConfig


def basic(user: str, password: str) -> bytes:
    return b"Basic " + base64.b64encode(f"{user}:{password}".encode())


def htpasswd(path: Path, flag: str, user: str, password: str) -> None:
    """Apache's own tool (Debian's apache2-utils) writes the line."""
    create = [] if path.exists() else ["-c"]
    subprocess.run(
        ["htpasswd", "-b", *create, flag, str(path), user, password],
        check=True,
        capture_output=True,
    )


@pytest.mark.parametrize(
    ("flag", "prefix"),
    [("-B", "$2y$"), ("-m", "$apr1$"), ("-s", "{SHA}")],
)
def test_htpasswd_hashes_are_checked(tmp_path: Path, flag: str, prefix: str) -> None:
    path = tmp_path / "users"
    htpasswd(path, flag, "alice", "s3cret pass")
    assert path.read_text().split(":", 1)[1].startswith(prefix)
    users = read_htpasswd(path)
    assert set(users) == {"alice"}
    assert users["alice"](b"s3cret pass") is True
    assert users["alice"](b"s3cret") is False
    assert users["alice"](b"") is False


def test_md5_crypt_matches_openssl() -> None:
    for magic, option in ((b"$apr1$", "-apr1"), (b"$1$", "-1")):
        for password in ("", "a", "password", "x" * 40, "пароль"):
            out = subprocess.run(
                ["openssl", "passwd", option, "-salt", "abcdefgh", password],
                check=True,
                capture_output=True,
            ).stdout.strip()
            assert md5_crypt(password.encode(), b"abcdefgh", magic) == out, (magic, password)


def test_salted_sha_and_unreadable_lines(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    salt = os.urandom(4)
    ssha = base64.b64encode(hashlib.sha1(b"pw" + salt).digest() + salt).decode()
    path = tmp_path / "users"
    lines = ["# a comment", f"bob:{{SSHA}}{ssha}", "carol:plaintext", "dave:$6$s$no", "no-colon"]
    path.write_text("\n".join(lines) + "\n\n")
    users = read_htpasswd(path)
    assert set(users) == {"bob"}
    assert users["bob"](b"pw") and not users["bob"](b"px")
    warned = [r.getMessage() for r in caplog.records]
    assert any(f"{path}:3: not read" in m for m in warned)
    assert any(f"{path}:4: not read" in m for m in warned)
    assert any(f"{path}:5: not read" in m for m in warned)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (basic("alice", "a:b"), ("alice", b"a:b")),
        (b"basic " + base64.b64encode(b"u:"), ("u", b"")),
        (b"Bearer abc", None),
        (b"Basic !!!", None),
        (b"Basic " + base64.b64encode(b"no-colon"), None),
        (b"", None),
    ],
)
def test_basic_credentials(header: bytes, expected: tuple[str, bytes] | None) -> None:
    assert parse_basic_credentials(header) == expected


def test_verdicts_are_remembered_until_the_file_changes(tmp_path: Path) -> None:
    path = tmp_path / "users"
    htpasswd(path, "-s", "alice", "one")
    scheme = BasicAuth("site", str(path), "Site", refresh=1.0)
    scheme.load()
    good, bad = basic("alice", "one"), basic("alice", "two")
    assert scheme.known_verdict(good) is None
    assert scheme.check(good) is True and scheme.known_verdict(good) is True
    assert scheme.check(bad) is False and scheme.known_verdict(bad) is False
    assert scheme.known_verdict(b"") is False  # no credentials: no check needed
    assert scheme.reload_if_changed() is False  # same file, same verdicts

    htpasswd(path, "-s", "alice", "two")
    os.utime(path, (1, 1))  # a different modification time, even an older one, reloads
    assert scheme.reload_if_changed() is True
    assert scheme.known_verdict(good) is None
    assert scheme.check(good) is False and scheme.check(bad) is True

    path.unlink()  # Fabio clears the credentials when the file goes away
    assert scheme.reload_if_changed() is True
    assert scheme.users == 0 and scheme.check(bad) is False


def test_challenge_names_the_realm() -> None:
    scheme = BasicAuth("site", "/nonexistent", 'My "site"')
    assert scheme.challenge == b'WWW-Authenticate: Basic realm="My \\"site\\""\r\n'
    with pytest.raises(ConfigError, match=r"proxy\.auth: site: cannot read /nonexistent"):
        scheme.load()


def test_parse_auth_schemes() -> None:
    schemes = parse_auth_schemes(
        "name=a;type=basic;file=/x/a.htpasswd;realm=Area A;refresh=30s,"
        " name=b;type=basic;file=/x/b.htpasswd"
    )
    assert set(schemes) == {"a", "b"}
    assert (schemes["a"].file, schemes["a"].realm, schemes["a"].refresh) == (
        "/x/a.htpasswd",
        "Area A",
        30.0,
    )
    assert (schemes["b"].realm, schemes["b"].refresh) == ("b", 0.0)  # realm defaults to name
    assert parse_auth_schemes("") == {}
    assert parse_auth_schemes("name=c;type=basic;file=/x;refresh=10ms")["c"].refresh == 1.0


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("type=basic;file=/x", "missing 'name'"),
        ("name=a;file=/x", "missing 'type' in auth 'a'"),
        ("name=a;type=digest;file=/x", "unknown auth type 'digest' in auth 'a'"),
        ("name=a;type=basic", "missing 'file' in auth 'a'"),
        ("name=a;type=basic;file=/x;refresh=soon", "proxy.auth: a: refresh:"),
        ("name=e;type=external", "missing 'endpoint' in auth 'e'"),
        ("name=e;type=external;endpoint=http://d/", "should not end with /"),
        ("name=e;type=external;endpoint=d:80", "expected an http"),
    ],
)
def test_parse_auth_schemes_errors(text: str, error: str) -> None:
    with pytest.raises(ConfigError, match=error):
        parse_auth_schemes(text)
    with pytest.raises(ConfigError, match=error):  # the router's config fails as early
        RouterConfig.from_properties({"proxy.auth": text})


def test_parse_external_scheme() -> None:
    schemes = parse_auth_schemes(
        "name=sso;type=external;endpoint=http://127.0.0.1:4180/oauth2/auth;"
        'set-auth-headers="X-User,X-Email";append-auth-headers="Set-Cookie",'
        "name=b;type=basic;file=/x"
    )
    sso = schemes["sso"]
    assert isinstance(sso, ExternalAuth)
    assert sso.endpoint == "http://127.0.0.1:4180/oauth2/auth"
    assert (sso.set_headers, sso.append_headers) == (("X-User", "X-Email"), ("Set-Cookie",))
    assert isinstance(schemes["b"], BasicAuth)

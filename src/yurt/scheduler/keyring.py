"""The scheduler's keyring: the root key that seals Nomad Variables at rest, and signs the
workload identities of tasks.

Nomad encrypts every variable with a root key kept by the servers (its keyring); yurt keeps
one root key per data directory, in `<data_dir>/keyring/<KeyID>.json` (directory 0700,
file 0600), made on first use. Sealing is an authenticated stream cipher built from the
standard library alone (no new dependency): HMAC-SHA256 in counter mode gives the
keystream, an HMAC-SHA256 over nonce and ciphertext the tag (encrypt-then-MAC), each under
its own key derived from the root key. A sealed blob is `nonce(16) | ciphertext | tag(32)`,
stored base64 with the ID of the key that sealed it, as Nomad stores `Data` and `KeyID`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import uuid
from pathlib import Path

_NONCE = 16
_TAG = 32


class KeyringError(Exception):
    """A blob that does not open: unknown key, or tampered or truncated data."""


def _derive(root: bytes, purpose: bytes) -> bytes:
    return hmac.new(root, b"yurt-keyring\0" + purpose, hashlib.sha256).digest()


def _keystream(key: bytes, nonce: bytes, size: int) -> bytes:
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hmac.new(key, nonce + counter.to_bytes(8, "big"), hashlib.sha256).digest()
        counter += 1
    return bytes(out[:size])


class Keyring:
    """The root key of one data directory."""

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)
        self.key_id, self._root = self._load_or_create()
        self._enc = _derive(self._root, b"encrypt")
        self._mac = _derive(self._root, b"authenticate")
        self._sign = _derive(self._root, b"identity")

    def _load_or_create(self) -> tuple[str, bytes]:
        self.directory.mkdir(parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        found = sorted(self.directory.glob("*.json"))
        if found:
            doc = json.loads(found[0].read_text())
            return str(doc["KeyID"]), base64.b64decode(doc["Key"])
        key_id = str(uuid.uuid4())
        root = secrets.token_bytes(32)
        doc = {"KeyID": key_id, "Algorithm": "hmac-sha256-ctr+hmac-sha256", "Key": ""}
        doc["Key"] = base64.b64encode(root).decode()
        path = self.directory / f"{key_id}.json"
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(doc, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
        return key_id, root

    def seal(self, plaintext: bytes) -> tuple[str, str]:
        """(base64 blob, KeyID)."""
        nonce = secrets.token_bytes(_NONCE)
        stream = _keystream(self._enc, nonce, len(plaintext))
        cipher = bytes(a ^ b for a, b in zip(plaintext, stream, strict=True))
        tag = hmac.new(self._mac, nonce + cipher, hashlib.sha256).digest()
        return base64.b64encode(nonce + cipher + tag).decode(), self.key_id

    def open(self, blob: str, key_id: str) -> bytes:
        if key_id != self.key_id:
            raise KeyringError(f"no such key {key_id!r} in keyring")
        try:
            raw = base64.b64decode(blob, validate=True)
        except ValueError:
            raise KeyringError("sealed data is not base64") from None
        if len(raw) < _NONCE + _TAG:
            raise KeyringError("sealed data is truncated")
        nonce, cipher, tag = raw[:_NONCE], raw[_NONCE:-_TAG], raw[-_TAG:]
        want = hmac.new(self._mac, nonce + cipher, hashlib.sha256).digest()
        if not hmac.compare_digest(tag, want):
            raise KeyringError("sealed data failed authentication")
        stream = _keystream(self._enc, nonce, len(cipher))
        return bytes(a ^ b for a, b in zip(cipher, stream, strict=True))

    def sign(self, message: str) -> str:
        return hmac.new(self._sign, message.encode(), hashlib.sha256).hexdigest()

    def verify(self, message: str, signature: str) -> bool:
        return hmac.compare_digest(self.sign(message), signature)

"""The scheduler's keyring: the root key that seals Nomad Variables at rest, and signs the
workload identities of tasks.

Nomad encrypts every variable with a root key kept by the servers (its keyring), with
AES-256-GCM; yurt does the same through `cryptography`'s AESGCM. It keeps one root key per
data directory, in `<data_dir>/keyring/<KeyID>.json` (directory 0700, file 0600), made on
first use. A sealed blob is `nonce(12) | ciphertext | tag(16)`, stored base64 with the ID of
the key that sealed it, as Nomad stores `Data` and `KeyID`. The caller may bind a blob to
where it is stored (associated data: a variable's namespace and path), so that a blob copied
onto another variable does not open. Identities are signed with HMAC-SHA256 under a second
key derived from the root key with HKDF, so the two uses never share a key.
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

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

ALGORITHM = "aes256-gcm"
_NONCE = 12
_TAG = 16


class KeyringError(Exception):
    """A blob that does not open: unknown key, or tampered or truncated data."""


def _derive(root: bytes, purpose: bytes) -> bytes:
    return HKDF(hashes.SHA256(), 32, salt=None, info=b"yurt-keyring\0" + purpose).derive(root)


class Keyring:
    """The root key of one data directory."""

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)
        self.key_id, root = self._load_or_create()
        self._aead = AESGCM(root)
        self._sign = _derive(root, b"identity")

    def _load_or_create(self) -> tuple[str, bytes]:
        self.directory.mkdir(parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        found = sorted(self.directory.glob("*.json"))
        if found:
            doc = json.loads(found[0].read_text())
            if doc.get("Algorithm") != ALGORITHM:
                raise KeyringError(
                    f"{found[0]}: key algorithm {doc.get('Algorithm')!r} is not {ALGORITHM!r}"
                )
            return str(doc["KeyID"]), base64.b64decode(doc["Key"])
        key_id = str(uuid.uuid4())
        root = AESGCM.generate_key(bit_length=256)
        doc = {"KeyID": key_id, "Algorithm": ALGORITHM, "Key": base64.b64encode(root).decode()}
        path = self.directory / f"{key_id}.json"
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(doc, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
        return key_id, root

    def seal(self, plaintext: bytes, bound_to: bytes = b"") -> tuple[str, str]:
        """(base64 blob, KeyID); `bound_to` must be given again to open it."""
        nonce = secrets.token_bytes(_NONCE)
        sealed = self._aead.encrypt(nonce, plaintext, bound_to)
        return base64.b64encode(nonce + sealed).decode(), self.key_id

    def open(self, blob: str, key_id: str, bound_to: bytes = b"") -> bytes:
        if key_id != self.key_id:
            raise KeyringError(f"no such key {key_id!r} in keyring")
        try:
            raw = base64.b64decode(blob, validate=True)
        except ValueError:
            raise KeyringError("sealed data is not base64") from None
        if len(raw) < _NONCE + _TAG:
            raise KeyringError("sealed data is truncated")
        try:
            return self._aead.decrypt(raw[:_NONCE], raw[_NONCE:], bound_to)
        except InvalidTag:
            raise KeyringError("sealed data failed authentication") from None

    def sign(self, message: str) -> str:
        return hmac.new(self._sign, message.encode(), hashlib.sha256).hexdigest()

    def verify(self, message: str, signature: str) -> bool:
        return hmac.compare_digest(self.sign(message), signature)

"""The scheduler's keyring: the root keys that seal Nomad Variables at rest, and sign the
workload identities of tasks.

Nomad encrypts every variable with a root key kept by the servers (its keyring), with
AES-256-GCM; yurt does the same through `cryptography`'s AESGCM. As Nomad 1.9's default
keyring keeps its root keys in Raft, yurt keeps them in the scheduler's store (the
`keyring` kind, by KeyID), so every server of one store has the same keys
(`ops_variables` makes and imports them; this module is the crypto and the rows, no I/O
but the read of an old key file). One key is active: it seals and signs; the others
(imported from data directories) only open what they sealed and verify what they signed.

A sealed blob is `nonce(12) | ciphertext | tag(16)`, stored base64 with the ID of the key
that sealed it, as Nomad stores `Data` and `KeyID`. The caller may bind a blob to where it
is stored (associated data: a variable's namespace and path), so that a blob copied onto
another variable does not open. Identities are signed with HMAC-SHA256 under a second key
derived from the root key with HKDF, so the two uses never share a key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

ALGORITHM = "aes256-gcm"
# Nomad's RootKeyMeta states: the active key encrypts; an inactive one only decrypts.
ACTIVE = "active"
INACTIVE = "inactive"
_NONCE = 12
_TAG = 16


class KeyringError(Exception):
    """A blob that does not open: unknown key, or tampered or truncated data."""


class NoRootKey(KeyringError):
    """No root key in the store yet, on a server that may not make one (a follower)."""


def _derive(root: bytes, purpose: bytes) -> bytes:
    return HKDF(hashes.SHA256(), 32, salt=None, info=b"yurt-keyring\0" + purpose).derive(root)


@dataclass(frozen=True)
class RootKey:
    key_id: str
    root: bytes

    @classmethod
    def generated(cls) -> RootKey:
        return cls(str(uuid.uuid4()), AESGCM.generate_key(bit_length=256))

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any], where: str) -> RootKey:
        """A key from its stored form (a store row or an old key file named by `where`)."""
        if doc.get("Algorithm") != ALGORITHM:
            raise KeyringError(
                f"{where}: key algorithm {doc.get('Algorithm')!r} is not {ALGORITHM!r}"
            )
        try:
            root = base64.b64decode(str(doc.get("Key", "")), validate=True)
        except binascii.Error:
            raise KeyringError(f"{where}: the key is not base64") from None
        if len(root) != 32 or not doc.get("KeyID"):
            raise KeyringError(f"{where}: not a 256-bit key with a KeyID")
        return cls(str(doc["KeyID"]), root)

    def row(self, state: str, index: int, now: int) -> dict[str, Any]:
        """The store's row of this key, as Nomad's RootKey: its metadata and the key."""
        return {
            "KeyID": self.key_id,
            "Algorithm": ALGORITHM,
            "Key": base64.b64encode(self.root).decode(),
            "State": state,
            "CreateIndex": index,
            "ModifyIndex": index,
            "CreateTime": now,
        }


def legacy_key(directory: Path) -> RootKey | None:
    """The key an older yurt kept in `<data_dir>/keyring/<KeyID>.json` (one per data
    directory), to import into the store; None when there is none."""
    found = sorted(directory.glob("*.json")) if directory.is_dir() else []
    if not found:
        return None
    return RootKey.from_doc(json.loads(found[0].read_text()), str(found[0]))


def ordered(rows: Iterable[Mapping[str, Any]]) -> list[RootKey]:
    """The store's key rows, the active key first. Two servers that made a key at the same
    moment may both have stored one as active: the older (lower CreateIndex, then KeyID)
    is the active one on every server, as each sees the same rows."""

    def rank(row: Mapping[str, Any]) -> tuple[int, int, str]:
        return (row.get("State") != ACTIVE, int(row.get("CreateIndex", 0)), str(row["KeyID"]))

    return [
        RootKey.from_doc(row, f"keyring {row.get('KeyID')!r}") for row in sorted(rows, key=rank)
    ]


class Keyring:
    """The root keys of the store: `keys[0]` (the active one) seals and signs."""

    def __init__(self, keys: Sequence[RootKey]) -> None:
        if not keys:
            raise NoRootKey("the keyring has no root key")
        self.key_id = keys[0].key_id
        self.key_ids = [k.key_id for k in keys]
        self._aead = {k.key_id: AESGCM(k.root) for k in keys}
        self._signers = [_derive(k.root, b"identity") for k in keys]

    def seal(self, plaintext: bytes, bound_to: bytes = b"") -> tuple[str, str]:
        """(base64 blob, KeyID); `bound_to` must be given again to open it."""
        nonce = secrets.token_bytes(_NONCE)
        sealed = self._aead[self.key_id].encrypt(nonce, plaintext, bound_to)
        return base64.b64encode(nonce + sealed).decode(), self.key_id

    def open(self, blob: str, key_id: str, bound_to: bytes = b"") -> bytes:
        aead = self._aead.get(key_id)
        if aead is None:
            raise KeyringError(f"no such key {key_id!r} in keyring")
        try:
            raw = base64.b64decode(blob, validate=True)
        except ValueError:
            raise KeyringError("sealed data is not base64") from None
        if len(raw) < _NONCE + _TAG:
            raise KeyringError("sealed data is truncated")
        try:
            return aead.decrypt(raw[:_NONCE], raw[_NONCE:], bound_to)
        except InvalidTag:
            raise KeyringError("sealed data failed authentication") from None

    def sign(self, message: str) -> str:
        return self._mac(self._signers[0], message)

    def verify(self, message: str, signature: str) -> bool:
        """Under any of the keys: an identity signed before its server's key was imported
        next to another active one still verifies."""
        return any(hmac.compare_digest(self._mac(k, message), signature) for k in self._signers)

    @staticmethod
    def _mac(key: bytes, message: str) -> str:
        return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()

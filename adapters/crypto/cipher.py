"""Encryption of secrets at rest (webhook secrets, Evolution tokens, message text)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_PREFIX = "wac1"
_NONCE_BYTES = 12


class CipherError(ValueError):
    """A value that no configured key can open, or a malformed key."""


def generate_key() -> str:
    """A new 32-byte key in the urlsafe base64 form ``DATA_ENCRYPTION_KEY`` expects."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def _raw_key(text: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
    except (binascii.Error, ValueError) as exc:
        raise CipherError("DATA_ENCRYPTION_KEY must be urlsafe base64") from exc
    if len(raw) != 32:
        raise CipherError("DATA_ENCRYPTION_KEY must decode to exactly 32 bytes")
    return raw


def _key_id(raw: bytes) -> str:
    # Derived from the key itself, so the order of the configured keys never matters.
    return hashlib.sha256(b"wachannel-kid:" + raw).hexdigest()[:8]


class SecretCipher:
    """AES-256-GCM under ``primary_key``; ``old_keys`` only decrypt (key rotation).

    A ciphertext reads ``wac1:<key id>:<base64 nonce+ciphertext>``, so each value names
    the key that sealed it.
    """

    def __init__(self, primary_key: str, *old_keys: str) -> None:
        raw_keys = [_raw_key(k) for k in (primary_key, *old_keys)]
        self._primary = _key_id(raw_keys[0])
        self._keys = {_key_id(raw): AESGCM(raw) for raw in raw_keys}

    def encrypt(self, plaintext: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._keys[self._primary].encrypt(nonce, plaintext.encode(), None)
        body = base64.urlsafe_b64encode(nonce + sealed).decode()
        return f"{_PREFIX}:{self._primary}:{body}"

    def decrypt(self, token: str) -> str:
        """Raise ``CipherError`` when the value is malformed, forged or its key is unknown."""
        prefix, kid, body = [*token.split(":", 2), "", ""][:3]
        key = self._keys.get(kid)
        if prefix != _PREFIX or key is None:
            raise CipherError(f"no configured key can decrypt a value sealed by key {kid!r}")
        try:
            raw = base64.urlsafe_b64decode(body.encode())
            return key.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], None).decode()
        except (binascii.Error, ValueError, InvalidTag) as exc:
            raise CipherError("encrypted value is corrupt or was tampered with") from exc

    def encrypt_optional(self, plaintext: str | None) -> str | None:
        return None if plaintext is None else self.encrypt(plaintext)

    def decrypt_optional(self, token: str | None) -> str | None:
        return None if token is None else self.decrypt(token)

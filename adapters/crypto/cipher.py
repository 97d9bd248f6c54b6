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
        body = base64.urlsafe_b64encode(self._seal(plaintext.encode())).decode()
        return f"{_PREFIX}:{self._primary}:{body}"

    def decrypt(self, token: str) -> str:
        """Raise ``CipherError`` when the value is malformed, forged or its key is unknown."""
        prefix, kid, body = [*token.split(":", 2), "", ""][:3]
        if prefix != _PREFIX:
            raise CipherError("not a value sealed by this service")
        try:
            raw = base64.urlsafe_b64decode(body.encode())
        except (binascii.Error, ValueError) as exc:
            raise CipherError("encrypted value is corrupt or was tampered with") from exc
        return self._open(kid, raw).decode()

    def encrypt_bytes(self, plaintext: bytes) -> bytes:
        """Binary form for bytea columns: ``wac1`` + key id + nonce + ciphertext."""
        return f"{_PREFIX}{self._primary}".encode() + self._seal(plaintext)

    def decrypt_bytes(self, sealed: bytes) -> bytes:
        head = len(_PREFIX) + 8
        if sealed[:len(_PREFIX)] != _PREFIX.encode():
            raise CipherError("not a value sealed by this service")
        return self._open(sealed[len(_PREFIX):head].decode(errors="replace"), sealed[head:])

    def _seal(self, plaintext: bytes) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._keys[self._primary].encrypt(nonce, plaintext, None)

    def _open(self, kid: str, raw: bytes) -> bytes:
        key = self._keys.get(kid)
        if key is None:
            raise CipherError(f"no configured key can decrypt a value sealed by key {kid!r}")
        try:
            return key.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], None)
        except (ValueError, InvalidTag) as exc:
            raise CipherError("encrypted value is corrupt or was tampered with") from exc

    def encrypt_optional(self, plaintext: str | None) -> str | None:
        return None if plaintext is None else self.encrypt(plaintext)

    def decrypt_optional(self, token: str | None) -> str | None:
        return None if token is None else self.decrypt(token)

from __future__ import annotations

from adapters.crypto.cipher import CipherError, SecretCipher
from application.errors import ValidationFailed
from application.ports.backups import SecretSealer


class CipherSecretSealer(SecretSealer):
    """Seals with the same keys as the store's columns, so a backup opens wherever
    ``DATA_ENCRYPTION_KEY`` (or one of the old keys) is configured."""

    def __init__(self, cipher: SecretCipher) -> None:
        self._cipher = cipher

    def seal(self, secret: str) -> str:
        return self._cipher.encrypt(secret)

    def open(self, sealed: str) -> str:
        try:
            return self._cipher.decrypt(sealed)
        except CipherError as exc:
            raise ValidationFailed({"backup": ["a sealed secret opens with no configured key"]},
                                   "the backup was sealed with a key this service lacks") from exc

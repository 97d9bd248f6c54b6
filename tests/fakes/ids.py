"""Predictable identifiers, so tests can name what a use case is about to create."""

from __future__ import annotations

from uuid import UUID

from application.ports.system import IdGenerator


class SequentialIds(IdGenerator):
    """UUIDs ``...0001``, ``...0002``; secrets ``secret-0001-sss...``; suffixes ``00000001``.

    Shortcuts: nothing here is random, so secrets are guessable (the port wants 256 random
    bits). Each kind counts on its own, from 1.
    """

    def __init__(self) -> None:
        self._uuids = 0
        self._secrets = 0
        self._suffixes = 0

    def uuid(self) -> UUID:
        self._uuids += 1
        return UUID(int=self._uuids)

    def secret(self) -> str:
        self._secrets += 1
        # Padded to 32 bytes: PyJWT warns about shorter HMAC keys.
        return f"secret-{self._secrets:04d}-".ljust(40, "s")

    def hex8(self) -> str:
        self._suffixes += 1
        return f"{self._suffixes:08x}"

    def peek_hex8(self) -> str:
        """The suffix the next ``hex8`` call will return."""
        return f"{self._suffixes + 1:08x}"

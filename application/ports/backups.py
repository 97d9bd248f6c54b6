from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime

import attrs


@attrs.frozen
class BackupRecord:
    """One stored backup: its document's bytes are read separately (they may be large)."""

    id: str
    created_at: datetime
    instances: int
    sha256: str
    size: int


class BackupStore(ABC):
    """Where backup documents are kept: Postgres, a directory (``BACKUP_DIR``), or memory."""

    @abstractmethod
    async def put(self, record: BackupRecord, document: bytes) -> None:
        """Keep the document under ``record.id``. Raises ``Conflict`` if the id exists."""

    @abstractmethod
    async def list(self) -> list[BackupRecord]:
        """Every stored backup, newest first."""

    @abstractmethod
    async def get(self, backup_id: str) -> bytes | None:
        """The document's bytes exactly as stored, or None."""

    @abstractmethod
    async def remove(self, backup_id: str) -> None:
        """Forget one backup (retention). Idempotent."""


class SecretSealer(ABC):
    """Seals secrets for a backup document with the keys that protect them at rest."""

    @abstractmethod
    def seal(self, secret: str) -> str:
        """The sealed form; never the secret itself."""

    @abstractmethod
    def open(self, sealed: str) -> str:
        """The secret. Raises ``ValidationFailed`` when no configured key can open it."""

from __future__ import annotations

from application.errors import Conflict
from application.ports.backups import BackupRecord, BackupStore


class InMemoryBackupStore(BackupStore):
    """The embedded default's backups: gone with the process, like the store they copy."""

    def __init__(self) -> None:
        self._items: dict[str, tuple[BackupRecord, bytes]] = {}

    async def put(self, record: BackupRecord, document: bytes) -> None:
        if record.id in self._items:
            raise Conflict(f"backup {record.id} exists")
        self._items[record.id] = (record, bytes(document))

    async def list(self) -> list[BackupRecord]:
        return sorted((r for r, _ in self._items.values()),
                      key=lambda r: (r.created_at, r.id), reverse=True)

    async def get(self, backup_id: str) -> bytes | None:
        found = self._items.get(backup_id)
        return found[1] if found else None

    async def remove(self, backup_id: str) -> None:
        self._items.pop(backup_id, None)

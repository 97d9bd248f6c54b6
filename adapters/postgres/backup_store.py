from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import asyncpg

from adapters.postgres.db import translated
from application.errors import Conflict
from application.ports.backups import BackupRecord, BackupStore

_PUT = ("INSERT INTO backups (id, created_at, instances, sha256, size, document) "
        "VALUES ($1, $2, $3, $4, $5, $6)")
_LIST = ("SELECT id, created_at, instances, sha256, size FROM backups "
         "ORDER BY created_at DESC, id DESC")
_GET = "SELECT document FROM backups WHERE id = $1"
_REMOVE = "DELETE FROM backups WHERE id = $1"


class AsyncpgBackupStore(BackupStore):
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def put(self, record: BackupRecord, document: bytes) -> None:
        with translated():
            try:
                await self._pool.execute(_PUT, record.id, record.created_at, record.instances,
                                         record.sha256, record.size, document)
            except asyncpg.UniqueViolationError as exc:
                raise Conflict(f"backup {record.id} exists") from exc

    async def list(self) -> list[BackupRecord]:
        with translated():
            rows = await self._pool.fetch(_LIST)
        return [_to_record(row) for row in rows]

    async def get(self, backup_id: str) -> bytes | None:
        with translated():
            value = await self._pool.fetchval(_GET, backup_id)
        return bytes(value) if value is not None else None

    async def remove(self, backup_id: str) -> None:
        with translated():
            await self._pool.execute(_REMOVE, backup_id)


def _to_record(row: Mapping[str, Any]) -> BackupRecord:
    return BackupRecord(row["id"], row["created_at"], row["instances"], row["sha256"],
                        row["size"])

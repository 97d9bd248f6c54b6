"""Backups as files in ``BACKUP_DIR``: ``<id>.json`` holds the document, ``<id>.meta.json`` its
record. Each file is written beside its final name and renamed, so a crash never leaves half a
document under a backup's name."""

from __future__ import annotations

import asyncio
import json
import os
import re
from datetime import datetime
from pathlib import Path

from application.errors import Conflict
from application.ports.backups import BackupRecord, BackupStore

_ID = re.compile(r"[A-Za-z0-9-]{1,64}", re.ASCII)


class DirectoryBackupStore(BackupStore):
    def __init__(self, directory: str) -> None:
        self._dir = Path(directory)

    async def put(self, record: BackupRecord, document: bytes) -> None:
        await asyncio.to_thread(self._put, record, document)

    async def list(self) -> list[BackupRecord]:
        return await asyncio.to_thread(self._list)

    async def get(self, backup_id: str) -> bytes | None:
        path = self._path(backup_id, ".json")
        if path is None or not path.exists():
            return None
        return await asyncio.to_thread(path.read_bytes)

    async def remove(self, backup_id: str) -> None:
        for suffix in (".meta.json", ".json"):
            path = self._path(backup_id, suffix)
            if path is not None:
                path.unlink(missing_ok=True)

    def _path(self, backup_id: str, suffix: str) -> Path | None:
        # The id comes from a URL: nothing but an id ever names a file here.
        return self._dir / f"{backup_id}{suffix}" if _ID.fullmatch(backup_id) else None

    def _put(self, record: BackupRecord, document: bytes) -> None:
        self._dir.mkdir(parents=True, exist_ok=True)
        target = self._path(record.id, ".json")
        meta = self._path(record.id, ".meta.json")
        assert target is not None
        assert meta is not None
        if target.exists():
            raise Conflict(f"backup {record.id} exists")
        _write(target, document)
        _write(meta, json.dumps({"id": record.id, "created_at": record.created_at.isoformat(),
                                 "instances": record.instances, "sha256": record.sha256,
                                 "size": record.size}).encode())

    def _list(self) -> list[BackupRecord]:
        if not self._dir.exists():
            return []
        records = []
        for meta in self._dir.glob("*.meta.json"):
            m = json.loads(meta.read_bytes())
            records.append(BackupRecord(m["id"], datetime.fromisoformat(m["created_at"]),
                                        m["instances"], m["sha256"], m["size"]))
        return sorted(records, key=lambda r: (r.created_at, r.id), reverse=True)


def _write(path: Path, data: bytes) -> None:
    partial = path.with_suffix(path.suffix + ".partial")
    with open(partial, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(partial, path)

"""One BackupStore suite over the three places a backup is kept: memory (the embedded
default), a directory (``BACKUP_DIR``) and Postgres; and the audit chain read page by page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.files.backup_store import DirectoryBackupStore
from adapters.memory.backup_store import InMemoryBackupStore
from adapters.postgres.backup_store import AsyncpgBackupStore
from adapters.postgres.pool import close_pool, create_pool
from application.errors import Conflict
from application.ports.backups import BackupRecord, BackupStore
from application.ports.repositories import AuditQuery
from domain.audit import AuditAction, AuditDraft
from tests.contract.conftest import Backend

T0 = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


@pytest.fixture(params=["memory", "directory",
                        pytest.param("postgres", marks=pytest.mark.integration)])
def store_kind(request: pytest.FixtureRequest) -> tuple[str, str | None]:
    if request.param == "postgres":
        return "postgres", request.getfixturevalue("postgres_dsn")
    return request.param, None


@pytest.fixture
async def store(store_kind: tuple[str, str | None], tmp_path: Path
                ) -> AsyncIterator[BackupStore]:
    kind, dsn = store_kind
    if dsn is None:
        yield InMemoryBackupStore() if kind == "memory" else DirectoryBackupStore(
            str(tmp_path / "backups"))
        return
    pool = await create_pool(dsn, 1, 2)
    try:
        yield AsyncpgBackupStore(pool)
    finally:
        await close_pool(pool)


def _record(n: int, document: bytes) -> BackupRecord:
    return BackupRecord(f"00000000-0000-0000-0000-00000000000{n}", T0 + timedelta(hours=n), n,
                        "ab" * 32, len(document))


async def test_a_document_comes_back_byte_for_byte_and_lists_newest_first(
        store: BackupStore) -> None:
    documents = {n: f'{{"n": {n}, "text": "Recepción"}}'.encode() for n in (1, 2, 3)}
    for n, document in documents.items():
        await store.put(_record(n, document), document)
    assert [r.instances for r in await store.list()] == [3, 2, 1]
    assert await store.list() == [_record(n, documents[n]) for n in (3, 2, 1)]
    assert await store.get(_record(2, b"").id) == documents[2]
    assert await store.get("00000000-0000-0000-0000-000000000009") is None


async def test_an_id_is_kept_once_and_removing_is_idempotent(store: BackupStore) -> None:
    await store.put(_record(1, b"{}"), b"{}")
    with pytest.raises(Conflict):
        await store.put(_record(1, b"{}"), b"{}")
    await store.remove(_record(1, b"").id)
    await store.remove(_record(1, b"").id)
    assert await store.list() == []
    assert await store.get(_record(1, b"").id) is None


async def test_directory_store_names_no_file_from_a_foreign_id(tmp_path: Path) -> None:
    store = DirectoryBackupStore(str(tmp_path))
    (tmp_path / "secret.json").write_text("{}")
    assert await store.get("../secret") is None


async def test_the_chain_reads_page_by_page_in_order_within_a_window(backend: Backend) -> None:
    async with backend.uow() as uow:
        for n in range(5):
            await uow.audit.append(AuditDraft("clinic-pages", AuditAction.QR_GENERATED, "u",
                                              "admin", T0 + timedelta(minutes=n)))
        await uow.commit()
    async with backend.uow() as uow:
        first = await uow.audit.chain_page("clinic-pages", 0, 2)
        rest = await uow.audit.chain_page("clinic-pages", first[-1][0], 10)
        window = await uow.audit.chain_page("clinic-pages", 0, 10, T0 + timedelta(minutes=1),
                                            T0 + timedelta(minutes=3))
        chain = await uow.audit.chain("clinic-pages")
        newest = await uow.audit.query(AuditQuery("clinic-pages"))
    assert [e for _, e in first + rest] == chain
    assert [e.timestamp for _, e in window] == [T0 + timedelta(minutes=m) for m in (1, 2)]
    assert len(newest.items) == 5

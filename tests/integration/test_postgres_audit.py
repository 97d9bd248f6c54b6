"""The database itself keeps audit_events append-only; only an opted-in purge may delete."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from adapters.crypto.cipher import SecretCipher, generate_key
from adapters.postgres import AsyncpgUnitOfWork, create_pool, purge_audit
from adapters.postgres.db import StorageFailure
from adapters.postgres.pool import close_pool
from tests.storage_builders import a_draft, org_id

pytestmark = pytest.mark.integration


@pytest.fixture
async def conn(postgres_dsn):
    conn = await asyncpg.connect(postgres_dsn)
    yield conn
    await conn.close()


async def _append(dsn, *drafts):
    pool = await create_pool(dsn, max_size=2)
    try:
        async with AsyncpgUnitOfWork(pool, SecretCipher(generate_key())) as uow:
            events = [await uow.audit.append(d) for d in drafts]
            await uow.commit()
    finally:
        await close_pool(pool)
    return events


async def _count(conn):
    return await conn.fetchval("SELECT count(*) FROM audit_events")


async def test_updating_an_audit_row_is_refused(postgres_dsn, conn):
    await _append(postgres_dsn, a_draft(org_id()))
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        await conn.execute("UPDATE audit_events SET action = 'forged'")
    assert await conn.fetchval("SELECT count(*) FROM audit_events WHERE action = 'forged'") == 0


async def test_deleting_or_truncating_audit_rows_is_refused(postgres_dsn, conn):
    await _append(postgres_dsn, a_draft(org_id()))
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await conn.execute("DELETE FROM audit_events")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await conn.execute("TRUNCATE audit_events")
    assert await _count(conn) == 1


async def test_purge_deletes_only_events_past_retention(postgres_dsn, conn):
    now = datetime.now(UTC)
    org = org_id()
    await _append(postgres_dsn, a_draft(org, at=now - timedelta(days=3000)),
                  a_draft(org, at=now - timedelta(days=10)))
    assert await purge_audit(conn, now - timedelta(days=2600)) == 1
    assert await _count(conn) == 1


async def test_purge_of_an_event_inside_retention_is_refused_and_deletes_nothing(
        postgres_dsn, conn):
    now = datetime.now(UTC)
    org = org_id()
    await _append(postgres_dsn, a_draft(org, at=now - timedelta(days=3000)),
                  a_draft(org, at=now - timedelta(days=10)))
    with pytest.raises(StorageFailure):
        await purge_audit(conn, now)
    assert await _count(conn) == 2


async def test_a_shorter_configured_retention_allows_an_earlier_purge(postgres_dsn, conn):
    now = datetime.now(UTC)
    await _append(postgres_dsn, a_draft(org_id(), at=now - timedelta(days=40)))
    assert await purge_audit(conn, now - timedelta(days=31), retention_days=30) == 1

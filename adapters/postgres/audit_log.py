from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import asyncpg
import attrs

from adapters import keyset
from adapters.postgres.db import Db, translated
from application.ports.repositories import AuditLog, AuditQuery, Page
from domain.audit import GENESIS_HASH, AuditDraft, AuditEvent, seal

# The organization's head row, created on its first event, locked until commit and read, in
# one round trip: the conflicting branch's no-op update takes the row lock, and under READ
# COMMITTED it waits for a concurrent appender's commit and then returns the newest head.
LOCK_HEAD = """
INSERT INTO audit_heads (organization_id, last_hash, count) VALUES ($1, $2, 0)
ON CONFLICT (organization_id) DO UPDATE SET count = audit_heads.count
RETURNING last_hash, count"""
# The event and the head's move past it, in one statement.
INSERT = """
WITH moved AS (
    UPDATE audit_heads SET last_hash = $12, count = $3 WHERE organization_id = $2
)
INSERT INTO audit_events (id, organization_id, seq, action, actor_id, actor_type, "timestamp",
    ip_address, user_agent, details, prev_hash, hash)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::json, $11, $12)"""
QUERY = """
SELECT id, organization_id, action, actor_id, actor_type, "timestamp", ip_address, user_agent,
    details, prev_hash, hash
FROM audit_events
WHERE ($1::text IS NULL OR organization_id = $1) AND ($2::text IS NULL OR action = $2)
  AND ($3::timestamptz IS NULL OR "timestamp" >= $3)
  AND ($4::timestamptz IS NULL OR "timestamp" < $4)
  AND ($5::timestamptz IS NULL OR ("timestamp", id) < ($5, $6::uuid))
ORDER BY "timestamp" DESC, id DESC
LIMIT $7"""
CHAIN = """
SELECT id, organization_id, action, actor_id, actor_type, "timestamp", ip_address, user_agent,
    details, prev_hash, hash
FROM audit_events WHERE organization_id = $1 ORDER BY seq"""
CHAIN_PAGE = """
SELECT seq, id, organization_id, action, actor_id, actor_type, "timestamp", ip_address,
    user_agent, details, prev_hash, hash
FROM audit_events
WHERE organization_id = $1 AND seq > $2
  AND ($3::timestamptz IS NULL OR "timestamp" >= $3)
  AND ($4::timestamptz IS NULL OR "timestamp" < $4)
ORDER BY seq LIMIT $5"""
ORGANIZATIONS = "SELECT organization_id FROM audit_heads WHERE count > 0"
PURGE = """DELETE FROM audit_events WHERE "timestamp" < $1"""


class AsyncpgAuditLog(AuditLog):
    def __init__(self, db: Db) -> None:
        self._db = db

    async def append(self, draft: AuditDraft) -> AuditEvent:
        # The hash covers the timestamp's text, and Postgres gives it back in UTC.
        draft = attrs.evolve(draft, timestamp=draft.timestamp.astimezone(UTC))
        head = await self._db.fetchrow(LOCK_HEAD, draft.organization_id, GENESIS_HASH)
        assert head is not None
        event = seal(draft, uuid.uuid4(), head["last_hash"])
        await self._db.execute(INSERT, *_to_row(event, head["count"] + 1))
        return event

    async def query(self, query: AuditQuery) -> Page[AuditEvent]:
        before = keyset.decode_uuid(query.cursor) if query.cursor else (None, None)
        action = str(query.action) if query.action is not None else None
        rows = await self._db.read_rows(QUERY, query.organization_id, action, query.since,
                                    query.until, *before, query.limit + 1)
        events = [_to_entity(row) for row in rows]
        return keyset.page_of(events, query.limit, lambda e: keyset.encode(e.timestamp, e.id))

    async def chain(self, organization_id: str) -> list[AuditEvent]:
        return [_to_entity(row) for row in await self._db.read_rows(CHAIN, organization_id)]

    async def organizations(self) -> list[str]:
        return sorted(row["organization_id"] for row in await self._db.read_rows(ORGANIZATIONS))

    async def chain_page(self, organization_id: str, after: int, limit: int,
                         since: datetime | None = None, until: datetime | None = None
                         ) -> list[tuple[int, AuditEvent]]:
        rows = await self._db.read_rows(CHAIN_PAGE, organization_id, after, since, until, limit)
        return [(row["seq"], _to_entity(row)) for row in rows]


async def purge_audit(conn: asyncpg.Connection, older_than: datetime,
                      retention_days: int = 2557) -> int:
    """Delete events older than ``older_than``; return how many.

    The database refuses (``StorageFailure``) if any of them is younger than
    ``retention_days``. Purging breaks the start of each chain: verify from the first kept event.
    """
    with translated():
        async with conn.transaction():
            await conn.execute("SET LOCAL wachannel.audit_purge = 'on'")
            await conn.execute("SELECT set_config('wachannel.audit_retention_days', $1, true)",
                               str(retention_days))
            status = await conn.execute(PURGE, older_than)
    return int(status.split()[-1])


def _to_row(event: AuditEvent, seq: int) -> tuple[Any, ...]:
    return (event.id, event.organization_id, seq, event.action, event.actor_id,
            event.actor_type, event.timestamp, event.ip_address, event.user_agent,
            json.dumps(event.details, default=str), event.prev_hash, event.hash)


def _to_entity(row: Mapping[str, Any]) -> AuditEvent:
    return AuditEvent(
        id=row["id"], organization_id=row["organization_id"], action=row["action"],
        actor_id=row["actor_id"], actor_type=row["actor_type"], timestamp=row["timestamp"],
        ip_address=row["ip_address"], user_agent=row["user_agent"],
        details=json.loads(row["details"]), prev_hash=row["prev_hash"], hash=row["hash"],
    )


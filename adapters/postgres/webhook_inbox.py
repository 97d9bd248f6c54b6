from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from adapters import keyset
from adapters.crypto.cipher import SecretCipher
from adapters.postgres.db import Db
from application.ports.inbox import (
    DeadLetter,
    DeadLetterQuery,
    InboxEvent,
    InboxStatus,
    WebhookInbox,
)
from application.ports.repositories import Page
from domain.webhook import LIFECYCLE_EVENTS, processing_order

# SKIP LOCKED: concurrent workers each take different rows instead of queueing on the same.
CLAIM = """
WITH due AS (
    SELECT id FROM webhook_inbox
    WHERE (status = 'pending' AND next_attempt_at <= $1)
       OR (status = 'processing' AND locked_until <= $1)
    ORDER BY (event <> ALL($4::text[])), received_at, id
    LIMIT $2
    FOR UPDATE SKIP LOCKED
)
UPDATE webhook_inbox AS w
SET status = 'processing', attempts = w.attempts + 1, locked_until = $3
FROM due WHERE w.id = due.id
RETURNING w.id, w.organization_id, w.instance_name, w.event, w.dedupe_key, w.body,
    w.received_at, w.attempts, w.status"""
COMPLETE = """
UPDATE webhook_inbox SET status = 'done', outcome = $2, locked_until = NULL WHERE id = $1"""
RETRY_LATER = """
UPDATE webhook_inbox SET status = 'pending', last_error = $2, next_attempt_at = $3,
    locked_until = NULL
WHERE id = $1"""
PARK = """
UPDATE webhook_inbox SET status = 'dead', last_error = $2, locked_until = NULL WHERE id = $1"""
COUNTS = "SELECT status, count(*) AS n FROM webhook_inbox GROUP BY status"
PURGE = """
DELETE FROM webhook_inbox WHERE id IN (
    SELECT id FROM webhook_inbox WHERE status = 'done' AND received_at < $1 LIMIT $2)"""

OLDEST_PENDING = """
SELECT min(received_at) FROM webhook_inbox WHERE status IN ('pending', 'processing')"""
DEAD = """
SELECT id, organization_id, instance_name, event, received_at, attempts, last_error
FROM webhook_inbox
WHERE status = 'dead' AND ($1::text IS NULL OR organization_id = $1)
  AND ($2::timestamptz IS NULL OR (received_at, id) < ($2, $3::uuid))
ORDER BY received_at DESC, id DESC
LIMIT $4"""
REVIVE = """
WITH before AS (
    SELECT id, organization_id, instance_name, event, received_at, attempts, last_error
    FROM webhook_inbox WHERE id = $1 AND status = 'dead' FOR UPDATE
)
UPDATE webhook_inbox AS w
SET status = 'pending', attempts = 0, next_attempt_at = $2, locked_until = NULL
FROM before WHERE w.id = before.id
RETURNING before.id, before.organization_id, before.instance_name, before.event,
    before.received_at, before.attempts, before.last_error"""


class AsyncpgWebhookInbox(WebhookInbox):
    """Bodies are encrypted at rest: they carry patients' messages and phone numbers."""

    def __init__(self, db: Db, cipher: SecretCipher) -> None:
        self._db = db
        self._cipher = cipher

    async def claim(self, limit: int, now: datetime, lease: timedelta) -> list[InboxEvent]:
        rows = await self._db.fetch(CLAIM, now, limit, now + lease, sorted(LIFECYCLE_EVENTS))
        events = [_to_entity(row, self._cipher) for row in rows]
        return sorted(events, key=lambda e: (*processing_order(e.event, e.received_at), e.id))

    async def complete(self, event_id: UUID, outcome: str) -> None:
        await self._db.execute(COMPLETE, event_id, outcome)

    async def retry_later(self, event_id: UUID, error: str, at: datetime) -> None:
        await self._db.execute(RETRY_LATER, event_id, error, at)

    async def park(self, event_id: UUID, error: str) -> None:
        await self._db.execute(PARK, event_id, error)

    async def counts(self) -> dict[InboxStatus, int]:
        counts = dict.fromkeys(InboxStatus, 0)
        for row in await self._db.read_rows(COUNTS):
            counts[InboxStatus(row["status"])] = row["n"]
        return counts

    async def purge(self, received_before: datetime, limit: int) -> int:
        status = await self._db.execute(PURGE, received_before, limit)
        return int(status.rsplit(" ", 1)[-1])  # "DELETE n"

    async def oldest_pending_at(self) -> datetime | None:
        oldest: datetime | None = await self._db.read_value(OLDEST_PENDING)
        return oldest

    async def dead(self, query: DeadLetterQuery) -> Page[DeadLetter]:
        at, key = keyset.decode_uuid(query.cursor) if query.cursor else (None, None)
        rows = await self._db.read_rows(DEAD, query.organization_id, at, key, query.limit + 1)
        return keyset.page_of([_to_dead_letter(r) for r in rows], query.limit,
                              lambda d: keyset.encode(d.received_at, d.id))

    async def revive(self, event_id: UUID, at: datetime) -> DeadLetter | None:
        row = await self._db.fetchrow(REVIVE, event_id, at)
        return None if row is None else _to_dead_letter(row)


def _to_dead_letter(row: Mapping[str, Any]) -> DeadLetter:
    return DeadLetter(id=row["id"], organization_id=row["organization_id"],
                      instance_name=row["instance_name"], event=row["event"],
                      received_at=row["received_at"], attempts=row["attempts"],
                      last_error=row["last_error"])


def _to_entity(row: Mapping[str, Any], cipher: SecretCipher) -> InboxEvent:
    return InboxEvent(
        id=row["id"], organization_id=row["organization_id"],
        instance_name=row["instance_name"], event=row["event"], dedupe_key=row["dedupe_key"],
        body=cipher.decrypt_bytes(bytes(row["body"])), received_at=row["received_at"],
        attempts=row["attempts"],
        status=InboxStatus(row["status"]),
    )

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from adapters.crypto.cipher import SecretCipher
from adapters.postgres.db import Db
from application.ports.inbox import InboxEvent, InboxStatus, WebhookInbox
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


def _to_entity(row: Mapping[str, Any], cipher: SecretCipher) -> InboxEvent:
    return InboxEvent(
        id=row["id"], organization_id=row["organization_id"],
        instance_name=row["instance_name"], event=row["event"], dedupe_key=row["dedupe_key"],
        body=cipher.decrypt_bytes(bytes(row["body"])), received_at=row["received_at"],
        attempts=row["attempts"],
        status=InboxStatus(row["status"]),
    )

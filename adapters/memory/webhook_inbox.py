from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import attrs

from adapters import keyset
from adapters.memory.store import InboxRow, InMemoryStore, Journal
from application.ports.inbox import (
    DeadLetter,
    DeadLetterQuery,
    InboxEvent,
    InboxStatus,
    WebhookInbox,
)
from application.ports.repositories import Page
from domain.webhook import processing_order


class InMemoryWebhookInbox(WebhookInbox):
    def __init__(self, store: InMemoryStore, journal: Journal) -> None:
        self._rows = store.inbox
        self._keys = store.inbox_keys
        self._open = store.inbox_open
        self._journal = journal

    async def claim(self, limit: int, now: datetime, lease: timedelta) -> list[InboxEvent]:
        due = sorted((r for r in map(self._rows.__getitem__, self._open) if _is_due(r, now)),
                     key=lambda r: (*processing_order(r.event.event, r.event.received_at),
                                    r.event.id))[:limit]
        claimed = []
        for row in due:
            event = attrs.evolve(row.event, status=InboxStatus.PROCESSING,
                                 attempts=row.event.attempts + 1)
            self._journal.put(self._rows, event.id,
                              attrs.evolve(row, event=event, locked_until=now + lease))
            claimed.append(event)
        return claimed

    async def complete(self, event_id: UUID, outcome: str) -> None:
        self._update(event_id, InboxStatus.DONE, outcome=outcome)

    async def retry_later(self, event_id: UUID, error: str, at: datetime) -> None:
        self._update(event_id, InboxStatus.PENDING, last_error=error, next_attempt_at=at)

    async def park(self, event_id: UUID, error: str) -> None:
        self._update(event_id, InboxStatus.DEAD, last_error=error)

    async def counts(self) -> dict[InboxStatus, int]:
        counts = dict.fromkeys(InboxStatus, 0)
        for row in self._rows.values():
            counts[row.event.status] += 1
        return counts

    async def purge(self, received_before: datetime, limit: int) -> int:
        gone = [row.event for row in self._rows.values()
                if row.event.status is InboxStatus.DONE
                and row.event.received_at < received_before][:limit]
        for event in gone:
            self._journal.discard(self._rows, event.id)
            self._journal.discard(self._keys, (event.organization_id, event.dedupe_key))
        return len(gone)

    async def oldest_pending_at(self) -> datetime | None:
        # The open index is in admission order, and received_at is the admission time.
        times = (self._rows[i].event.received_at for i in self._open)
        return min(times, default=None)

    async def dead(self, query: DeadLetterQuery) -> Page[DeadLetter]:
        after = keyset.decode_uuid(query.cursor) if query.cursor else None
        rows = sorted((r for r in self._rows.values()
                       if r.event.status is InboxStatus.DEAD
                       and query.organization_id in (None, r.event.organization_id)),
                      key=lambda r: (r.event.received_at, r.event.id), reverse=True)
        if after is not None:
            rows = [r for r in rows if (r.event.received_at, r.event.id) < after]
        letters = [_dead_letter(r) for r in rows[:query.limit + 1]]
        return keyset.page_of(letters, query.limit, lambda d: keyset.encode(d.received_at, d.id))

    async def revive(self, event_id: UUID, at: datetime) -> DeadLetter | None:
        row = self._rows.get(event_id)
        if row is None or row.event.status is not InboxStatus.DEAD:
            return None
        letter = _dead_letter(row)
        event = attrs.evolve(row.event, status=InboxStatus.PENDING, attempts=0)
        self._journal.put(self._rows, event_id,
                          attrs.evolve(row, event=event, next_attempt_at=at, locked_until=None))
        self._journal.put(self._open, event_id, None)
        return letter

    def _update(self, event_id: UUID, status: InboxStatus, **changes: Any) -> None:
        row = self._rows.get(event_id)
        if row is None:
            return
        event = attrs.evolve(row.event, status=status)
        self._journal.put(self._rows, event_id,
                          attrs.evolve(row, event=event, locked_until=None, **changes))
        if status not in (InboxStatus.PENDING, InboxStatus.PROCESSING):
            self._journal.discard(self._open, event_id)
        elif event_id not in self._open:
            self._journal.put(self._open, event_id, None)


def _dead_letter(row: InboxRow) -> DeadLetter:
    e = row.event
    return DeadLetter(id=e.id, organization_id=e.organization_id, instance_name=e.instance_name,
                      event=e.event, received_at=e.received_at, attempts=e.attempts,
                      last_error=row.last_error)


def _is_due(row: InboxRow, now: datetime) -> bool:
    if row.event.status is InboxStatus.PENDING:
        return row.next_attempt_at <= now
    if row.event.status is InboxStatus.PROCESSING:
        return row.locked_until is not None and row.locked_until <= now
    return False

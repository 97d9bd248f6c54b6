from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import attrs

from adapters.memory.store import InboxRow, InMemoryStore, Journal
from application.ports.inbox import InboxEvent, InboxStatus, WebhookInbox
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


def _is_due(row: InboxRow, now: datetime) -> bool:
    if row.event.status is InboxStatus.PENDING:
        return row.next_attempt_at <= now
    if row.event.status is InboxStatus.PROCESSING:
        return row.locked_until is not None and row.locked_until <= now
    return False

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime
from uuid import UUID

import attrs

from adapters import keyset
from adapters.memory.store import AuditHead, AuditRow, InMemoryStore, Journal
from application.ports.repositories import AuditLog, AuditQuery, Page
from domain.audit import GENESIS_HASH, AuditDraft, AuditEvent, seal


def _key(event: AuditEvent) -> tuple[datetime, UUID]:
    return (event.timestamp, event.id)


class InMemoryAuditLog(AuditLog):
    def __init__(self, store: InMemoryStore, journal: Journal) -> None:
        self._rows = store.audit
        self._heads = store.audit_heads
        self._journal = journal

    async def append(self, draft: AuditDraft) -> AuditEvent:
        # Same normalisation as Postgres, and a private copy so callers cannot edit the record.
        draft = attrs.evolve(draft, timestamp=draft.timestamp.astimezone(UTC),
                             details=copy.deepcopy(draft.details))
        head = self._heads.get(draft.organization_id, AuditHead(GENESIS_HASH, 0))
        event = seal(draft, uuid.uuid4(), head.last_hash)
        self._journal.put(self._rows, event.id, AuditRow(head.count + 1, event))
        self._journal.put(self._heads, draft.organization_id,
                          AuditHead(event.hash, head.count + 1))
        return event

    async def query(self, query: AuditQuery) -> Page[AuditEvent]:
        events = [r.event for r in self._rows.values() if _matches(r.event, query)]
        events.sort(key=_key, reverse=True)
        if query.cursor:
            before = keyset.decode_uuid(query.cursor)
            events = [e for e in events if _key(e) < before]
        return keyset.page_of(events, query.limit, lambda e: keyset.encode(e.timestamp, e.id))

    async def chain(self, organization_id: str) -> list[AuditEvent]:
        rows = [r for r in self._rows.values() if r.event.organization_id == organization_id]
        return [r.event for r in sorted(rows, key=lambda r: r.seq)]

    async def organizations(self) -> list[str]:
        return sorted(self._heads)

    async def chain_page(self, organization_id: str, after: int, limit: int,
                         since: datetime | None = None, until: datetime | None = None
                         ) -> list[tuple[int, AuditEvent]]:
        window = AuditQuery(organization_id, None, since, until)
        rows = sorted((r for r in self._rows.values()
                       if r.seq > after and _matches(r.event, window)), key=lambda r: r.seq)
        return [(r.seq, r.event) for r in rows[:limit]]


def _matches(event: AuditEvent, query: AuditQuery) -> bool:
    """``since`` is inclusive and ``until`` exclusive, so adjacent windows never overlap."""
    if query.organization_id is not None and event.organization_id != query.organization_id:
        return False
    if query.action is not None and event.action != str(query.action):
        return False
    if query.since is not None and event.timestamp < query.since:
        return False
    return query.until is None or event.timestamp < query.until

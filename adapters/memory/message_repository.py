from __future__ import annotations

from datetime import datetime
from uuid import UUID

import attrs

from adapters import keyset
from adapters.memory.store import InMemoryStore, Journal
from application.ports.repositories import MessageRepository, Page
from domain.messages import Message


def _key(message: Message) -> tuple[datetime, str]:
    return (message.timestamp or keyset.EPOCH, message.id)


class InMemoryMessageRepository(MessageRepository):
    def __init__(self, store: InMemoryStore, journal: Journal) -> None:
        self._rows = store.messages
        self._journal = journal

    async def upsert(self, instance_id: UUID, message: Message) -> bool:
        if (instance_id, message.id) in self._rows:
            return False
        self._journal.put(self._rows, (instance_id, message.id), message)
        return True

    async def set_status(self, instance_id: UUID, message_id: str, status: str) -> bool:
        found = self._rows.get((instance_id, message_id))
        if found is None:
            return False
        self._journal.put(self._rows, (instance_id, message_id),
                          attrs.evolve(found, status=status))
        return True

    async def find(self, instance_id: UUID, limit: int, cursor: str | None) -> Page[Message]:
        rows = sorted((m for (owner, _), m in self._rows.items() if owner == instance_id),
                      key=_key, reverse=True)
        if cursor:
            before = keyset.decode(cursor)
            rows = [m for m in rows if _key(m) < before]
        return keyset.page_of(rows, limit, lambda m: keyset.encode(*_key(m)))

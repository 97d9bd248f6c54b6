from __future__ import annotations

import copy
from datetime import datetime

from adapters.memory.store import InMemoryStore, Journal
from application.errors import Conflict
from application.ports.repositories import IdempotencyRepository, StoredResponse


class InMemoryIdempotencyRepository(IdempotencyRepository):
    def __init__(self, store: InMemoryStore, journal: Journal) -> None:
        self._rows = store.idempotency
        self._journal = journal

    async def get(self, scope: str, key: str, not_before: datetime) -> StoredResponse | None:
        found = self._rows.get((scope, key))
        if found is None or found.created_at < not_before:
            return None
        return copy.deepcopy(found)

    async def put(self, scope: str, key: str, response: StoredResponse,
                  replace_before: datetime) -> None:
        stored = self._rows.get((scope, key))
        if stored is not None and stored.created_at >= replace_before:
            raise Conflict(f"idempotency key {key} already used in {scope}")
        self._journal.put(self._rows, (scope, key), copy.deepcopy(response))

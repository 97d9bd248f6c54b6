from __future__ import annotations

from adapters.memory.store import InMemoryStore, Journal
from application.ports.repositories import FlagRepository
from domain.rollout import Flag


class InMemoryFlagRepository(FlagRepository):
    def __init__(self, store: InMemoryStore, journal: Journal) -> None:
        self._rows = store.flags
        self._journal = journal

    async def get(self, name: str) -> Flag | None:
        return self._rows.get(name)  # Flag is frozen: no copy needed

    async def save(self, flag: Flag) -> None:
        self._journal.put(self._rows, flag.name, flag)

    async def all(self) -> list[Flag]:
        return [self._rows[name] for name in sorted(self._rows)]

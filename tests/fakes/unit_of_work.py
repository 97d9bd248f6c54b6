"""A unit of work that can be made to hang, for tests of time bounds."""

from __future__ import annotations

import asyncio
from uuid import UUID

from adapters.memory import InMemoryNotifier, InMemoryStore, InMemoryUnitOfWork
from application.ports.repositories import InstanceQuery, InstanceRepository, Page
from domain.instance import Instance, InstanceState


class _StallingLookups(InstanceRepository):
    """Delegates to the real repository; ``get_by_name`` first waits for ``gate``."""

    def __init__(self, inner: InstanceRepository, gate: asyncio.Event) -> None:
        self._inner = inner
        self._gate = gate

    async def add(self, instance: Instance) -> None:
        await self._inner.add(instance)

    async def get(self, instance_id: UUID, *, lock: bool = False) -> Instance | None:
        return await self._inner.get(instance_id, lock=lock)

    async def get_by_name(self, evolution_name: str, *, lock: bool = False) -> Instance | None:
        await self._gate.wait()
        return await self._inner.get_by_name(evolution_name, lock=lock)

    async def save(self, instance: Instance) -> None:
        await self._inner.save(instance)

    async def find(self, query: InstanceQuery) -> Page[Instance]:
        return await self._inner.find(query)

    async def count_active(self, organization_id: str) -> int:
        return await self._inner.count_active(organization_id)

    async def all(self) -> list[Instance]:
        return await self._inner.all()

    async def count_by_state(self) -> dict[InstanceState, int]:
        return await self._inner.count_by_state()


class StallingUnitOfWork(InMemoryUnitOfWork):
    """The real in-memory unit of work, except that looking an instance up by its Evolution
    name blocks until ``gate`` is set: a stand-in for a database that stops answering.

    Shortcuts: only that one lookup stalls; everything else answers at once. The store lock is
    held while it waits, as a stuck transaction would hold its connection.
    """

    def __init__(self, store: InMemoryStore, notifier: InMemoryNotifier,
                 gate: asyncio.Event) -> None:
        super().__init__(store, notifier)
        self.instances = _StallingLookups(self.instances, gate)

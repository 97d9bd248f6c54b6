from __future__ import annotations

from collections import Counter
from uuid import UUID

import attrs

from adapters import keyset
from adapters.memory.store import InMemoryStore, Journal
from application.errors import Conflict
from application.ports.repositories import InstanceQuery, InstanceRepository, Page
from domain.instance import Instance, InstanceState


def _key(instance: Instance) -> tuple[object, UUID]:
    return (instance.created_at, instance.id)


class InMemoryInstanceRepository(InstanceRepository):
    """``lock`` is accepted and ignored: the unit of work already holds the whole store.

    Copies are shallow (``attrs.evolve``): every field of an instance is immutable, so a copy
    shares nothing a caller could change; names are indexed, never scanned.
    """

    def __init__(self, store: InMemoryStore, journal: Journal) -> None:
        self._rows = store.instances
        self._names = store.instance_names
        self._of = store.instances_of
        self._journal = journal

    async def add(self, instance: Instance) -> None:
        if instance.id in self._rows:
            raise Conflict(f"instance {instance.id} exists")
        self._store(instance)

    async def get(self, instance_id: UUID, *, lock: bool = False) -> Instance | None:
        found = self._rows.get(instance_id)
        return attrs.evolve(found) if found else None

    async def get_by_name(self, evolution_name: str, *, lock: bool = False) -> Instance | None:
        found = self._named(evolution_name)
        return attrs.evolve(found) if found else None

    async def save(self, instance: Instance) -> None:
        self._store(instance)

    async def find(self, query: InstanceQuery) -> Page[Instance]:
        rows = sorted((i for i in self._candidates(query.organization_id)
                       if _matches(i, query)), key=_key)
        if query.cursor:
            after = keyset.decode_uuid(query.cursor)
            rows = [i for i in rows if _key(i) > after]
        page = keyset.page_of(rows, query.limit, lambda i: keyset.encode(i.created_at, i.id))
        return Page([attrs.evolve(i) for i in page.items], page.next_cursor)

    async def count_active(self, organization_id: str) -> int:
        return sum(1 for i in self._candidates(organization_id) if i.is_active)

    async def all(self) -> list[Instance]:
        return [attrs.evolve(i) for i in sorted(self._rows.values(), key=_key)]

    async def count_by_state(self) -> dict[InstanceState, int]:
        return dict(Counter(i.state for i in self._rows.values()))

    def _store(self, instance: Instance) -> None:
        other = self._named(instance.evolution_name)
        if other is not None and other.id != instance.id:
            raise Conflict(f"evolution name {instance.evolution_name} exists")
        self._journal.put(self._rows, instance.id, attrs.evolve(instance))
        members = self._of.setdefault(instance.organization_id, {})
        if instance.id not in members:
            self._journal.put(members, instance.id, None)
        if self._names.get(instance.evolution_name) != instance.id:
            self._journal.put(self._names, instance.evolution_name, instance.id)

    def _candidates(self, organization_id: str | None) -> list[Instance]:
        if organization_id is None:
            return list(self._rows.values())
        return [self._rows[i] for i in self._of.get(organization_id, ())]

    def _named(self, evolution_name: str) -> Instance | None:
        instance_id = self._names.get(evolution_name)
        found = self._rows.get(instance_id) if instance_id else None
        return found if found is not None and found.evolution_name == evolution_name else None


def _matches(instance: Instance, query: InstanceQuery) -> bool:
    if query.organization_id is not None and instance.organization_id != query.organization_id:
        return False
    return query.state is None or instance.state is query.state

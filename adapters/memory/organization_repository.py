from __future__ import annotations

import copy

from adapters.memory.store import InMemoryStore, Journal
from application.errors import Conflict
from application.ports.repositories import OrganizationRepository
from domain.organization import Organization


class InMemoryOrganizationRepository(OrganizationRepository):
    """Secrets are kept in clear: this store never leaves the process."""

    def __init__(self, store: InMemoryStore, journal: Journal) -> None:
        self._rows = store.organizations
        self._journal = journal

    async def get(self, organization_id: str, *, lock: bool = False) -> Organization | None:
        found = self._rows.get(organization_id)
        return copy.deepcopy(found) if found else None

    async def add(self, organization: Organization) -> None:
        if organization.id in self._rows:
            raise Conflict(f"organization {organization.id} exists")
        self._journal.put(self._rows, organization.id, copy.deepcopy(organization))

    async def save(self, organization: Organization) -> None:
        self._journal.put(self._rows, organization.id, copy.deepcopy(organization))

"""Who a webhook is for, read through a short cache: the intake's hot path reads no table."""

from __future__ import annotations

import attrs

from application.errors import NotFound
from application.ports.system import Clock
from application.ports.unit_of_work import UnitOfWorkFactory
from domain.instance import Instance
from domain.organization import Organization


@attrs.frozen
class Recipient:
    organization: Organization
    instance: Instance


class WebhookDirectory:
    """Entries live ``ttl_s``; callers ask for ``fresh`` ones when a credential fails, so a
    rotated secret is never refused because of the cache. Unknown names are never cached:
    an instance created a moment ago is found at once."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, ttl_s: float = 30.0,
                 max_entries: int = 50_000) -> None:
        self._uow = uow
        self._clock = clock
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._entries: dict[tuple[str | None, str], tuple[float, Recipient]] = {}

    async def resolve(self, path_org: str | None, instance_name: str,
                      fresh: bool = False) -> Recipient:
        key = (path_org, instance_name)
        now = self._clock.monotonic()
        cached = self._entries.get(key)
        if cached is not None and not fresh and cached[0] > now:
            return cached[1]
        recipient = await self._read(path_org, instance_name)
        if len(self._entries) >= self._max_entries:
            self._entries.clear()  # bounded memory beats a perfect hit rate
        self._entries[key] = (now + self._ttl_s, recipient)
        return recipient

    async def _read(self, path_org: str | None, instance_name: str) -> Recipient:
        async with self._uow() as uow:
            instance = await uow.instances.get_by_name(instance_name)
            org_id = path_org or (instance.organization_id if instance else None)
            organization = await uow.organizations.get(org_id) if org_id else None
        if organization is None:
            raise NotFound("unknown organization")
        if instance is None or instance.organization_id != organization.id:
            raise NotFound("unknown instance for this organization")
        return Recipient(organization, instance)

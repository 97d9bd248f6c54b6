"""Organizations' webhook secrets: created with the first instance, rotated with overlap."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import structlog

from application.audit.drafts import audit_draft
from application.errors import ApplicationError, Conflict, NotFound
from application.ports.evolution import EvolutionGateway, InstanceRef, WebhookRegistration
from application.ports.repositories import InstanceQuery
from application.ports.system import Clock, IdGenerator
from application.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory
from application.presenters import rfc3339
from domain.access import Actor
from domain.audit import AuditAction
from domain.instance import Instance
from domain.organization import Organization
from domain.webhook import REGISTERED_EVENTS

log = structlog.get_logger(__name__)


WebhookUrl = Callable[[str], str]  # organization id -> where Evolution posts its webhooks


class OrganizationSecrets:
    def __init__(self, uow: UnitOfWorkFactory, evolution: EvolutionGateway, clock: Clock,
                 ids: IdGenerator, webhook_url: WebhookUrl, grace_s: float) -> None:
        self._uow = uow
        self._evolution = evolution
        self._clock = clock
        self._ids = ids
        self._webhook_url = webhook_url
        self._grace = timedelta(seconds=grace_s)

    def webhook(self, organization_id: str, secret: str) -> WebhookRegistration:
        """What Evolution is told about us (API.md 4a): its jwt_key signs every delivery."""
        return WebhookRegistration(url=self._webhook_url(organization_id),
                                   headers={"jwt_key": secret}, events=REGISTERED_EVENTS)

    async def ensure(self, uow: UnitOfWork, organization_id: str) -> Organization:
        """The organization, locked until ``uow`` ends, and created with a fresh webhook secret
        on its first instance. Holding the lock serialises an organization's instance creates,
        so its instance limit is counted by one of them at a time."""
        organization = await uow.organizations.get(organization_id, lock=True)
        if organization is None:
            try:
                organization = Organization(organization_id, self._ids.secret())
                await uow.organizations.add(organization)
            except Conflict:
                # Its first two instances were created at once (a double click): the other
                # request's organization, secret and all, is the one.
                organization = await uow.organizations.get(organization_id, lock=True)
                if organization is None:
                    raise
        return organization

    async def rotate(self, actor: Actor, organization_id: str) -> dict[str, Any]:
        """New secret now; the old one stays valid for the grace period; every instance's
        webhook at Evolution is re-registered with the new one."""
        now = self._clock.now()
        async with self._uow() as uow:
            organization = await uow.organizations.get(organization_id, lock=True)
            if organization is None:
                raise NotFound(f"organization {organization_id} not found")
            secret = self._ids.secret()
            valid_until = organization.rotate(secret, now, self._grace)
            await uow.organizations.save(organization)
            instances = await _all_instances(uow, organization_id)
            await uow.audit.append(audit_draft(
                actor, organization_id, AuditAction.SECRET_ROTATED, now,
                {"previous_valid_until": rfc3339(valid_until), "instances": len(instances)}))
            await uow.commit()
        failed = await self._reregister(organization_id, secret, instances)
        return {"secret": secret, "previous_valid_until": rfc3339(valid_until),
                "reregistered": len(instances) - len(failed), "failed": failed}

    async def _reregister(self, organization_id: str, secret: str,
                          instances: list[Instance]) -> list[str]:
        webhook = self.webhook(organization_id, secret)
        failed = []
        for instance in instances:
            try:
                await self._evolution.set_webhook(
                    InstanceRef(instance.evolution_name, instance.evolution_token), webhook)
            except ApplicationError as exc:
                # The old secret still works for the grace period; operators retry by rotating.
                log.warning("webhook_reregister_failed", instance_id=str(instance.id),
                            error=type(exc).__name__)
                failed.append(instance.evolution_name)
        return failed


async def _all_instances(uow: UnitOfWork, organization_id: str) -> list[Instance]:
    found: list[Instance] = []
    cursor = None
    while True:
        page = await uow.instances.find(InstanceQuery(organization_id, None, 200, cursor))
        found.extend(i for i in page.items if i.is_active)
        if page.next_cursor is None:
            return found
        cursor = page.next_cursor

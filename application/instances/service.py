"""Instance use cases: one-click create, read, restart, logout, delete, status, history."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

import attrs
import structlog

from application.access import readable_organization, visible_instance
from application.audit.drafts import audit_draft, instance_details
from application.errors import (
    ApplicationError,
    Conflict,
    InstanceLimitReached,
    UpstreamError,
    UpstreamTimeout,
)
from application.instances.lifecycle import move
from application.instances.organizations import OrganizationSecrets
from application.ports.evolution import CreateInstanceRequest, EvolutionGateway, InstanceRef
from application.ports.repositories import InstanceQuery, Page
from application.ports.system import Clock, IdGenerator
from application.ports.unit_of_work import UnitOfWorkFactory
from application.presenters import instance_view, message_view, rfc3339
from domain.access import Actor
from domain.audit import AuditAction
from domain.instance import (
    Instance,
    InstanceState,
    LifecycleSignal,
    evolution_name_for,
    reconciled_state,
)

log = structlog.get_logger(__name__)


@attrs.frozen
class InstancePolicy:
    max_per_org: int = 10


@attrs.frozen
class NewInstance:
    organization_id: str
    display_name: str | None
    phone_number: str | None


class InstanceService:
    def __init__(self, uow: UnitOfWorkFactory, evolution: EvolutionGateway, clock: Clock,
                 ids: IdGenerator, secrets: OrganizationSecrets, policy: InstancePolicy) -> None:
        self._uow = uow
        self._evolution = evolution
        self._clock = clock
        self._ids = ids
        self._secrets = secrets
        self._policy = policy

    async def create(self, actor: Actor, request: NewInstance) -> Instance:
        """Reserve the instance, then register it with Evolution in one call.

        The row exists before Evolution is called so that a create that fails or times out is
        still on record (state ``failed``) and never leaves an untracked Evolution instance.
        """
        instance, secret = await self._reserve(actor, request)
        webhook = self._secrets.webhook(instance.organization_id, secret)
        started = self._clock.monotonic()
        try:
            await self._evolution.create_instance(CreateInstanceRequest(
                instance.evolution_name, instance.evolution_token or "", webhook,
                request.phone_number))
        except ApplicationError as exc:
            await self._fail(instance, exc)
            raise
        except asyncio.CancelledError:
            # Shutting down mid-call: record the failure rather than leave it "creating".
            await asyncio.shield(self._fail(instance, UpstreamTimeout("create was cancelled")))
            raise
        api_seconds = round(self._clock.monotonic() - started, 3)
        return await self._registered(actor, instance.id, api_seconds)

    async def _reserve(self, actor: Actor, request: NewInstance) -> tuple[Instance, str]:
        org = request.organization_id
        now = self._clock.now()
        async with self._uow() as uow:
            organization = await self._secrets.ensure(uow, org)  # locked: one create at a time
            if await uow.instances.count_active(org) >= self._policy.max_per_org:
                raise InstanceLimitReached(
                    f"organization {org} already has {self._policy.max_per_org} instances")
            instance = Instance(
                id=self._ids.uuid(), organization_id=org,
                evolution_name=evolution_name_for(org, self._ids.hex8()),
                display_name=request.display_name, phone_number=request.phone_number,
                created_at=now, updated_at=now, evolution_token=self._ids.secret())
            await uow.instances.add(instance)
            await uow.commit()
        return instance, organization.webhook_secret

    async def _registered(self, actor: Actor, instance_id: UUID, api_seconds: float) -> Instance:
        async with self._uow() as uow:
            instance = await uow.instances.get(instance_id, lock=True)
            assert instance is not None  # reserved above, never removed
            now = self._clock.now()
            instance.apply(LifecycleSignal(InstanceState.AWAITING_QR), now)
            await uow.instances.save(instance)
            details = instance_details(instance, display_name=instance.display_name,
                                       performance_metrics={"api_response_time": api_seconds})
            await uow.audit.append(audit_draft(actor, instance.organization_id,
                                               AuditAction.INSTANCE_CREATED, now, details))
            await uow.commit()
        return instance

    async def _fail(self, instance: Instance, exc: ApplicationError) -> None:
        log.warning("instance_create_failed", instance_id=str(instance.id),
                    error=type(exc).__name__)
        async with self._uow() as uow:
            stored = await uow.instances.get(instance.id, lock=True)
            if stored is not None:
                stored.apply(LifecycleSignal(InstanceState.FAILED, type(exc).__name__),
                             self._clock.now())
                await uow.instances.save(stored)
                await uow.commit()
        if isinstance(exc, Conflict):  # Evolution says the name exists: not ours to adopt here
            raise UpstreamError("Evolution reports that instance name is already in use") from exc

    async def get(self, actor: Actor, instance_id: UUID) -> Instance:
        async with self._uow() as uow:
            return await visible_instance(uow, actor, instance_id)

    async def find(self, actor: Actor, organization_id: str | None, state: InstanceState | None,
                   limit: int, cursor: str | None) -> Page[Instance]:
        org = readable_organization(actor, organization_id)
        async with self._uow() as uow:
            return await uow.instances.find(InstanceQuery(org, state, limit, cursor))

    async def restart(self, actor: Actor, instance_id: UUID) -> Instance:
        instance = await self.get(actor, instance_id)
        try:
            await self._evolution.restart(_ref(instance))
        except UpstreamError:
            # Evolution refuses to restart a closed socket; opening it is what was meant.
            await self._evolution.connect(_ref(instance))
        return await self._record(actor, instance_id, AuditAction.INSTANCE_RESTARTED,
                                  LifecycleSignal(InstanceState.CONNECTING))

    async def logout(self, actor: Actor, instance_id: UUID) -> Instance:
        instance = await self.get(actor, instance_id)
        await self._evolution.logout(_ref(instance))
        return await self._record(actor, instance_id, AuditAction.INSTANCE_LOGGED_OUT,
                                  LifecycleSignal(InstanceState.LOGGED_OUT, "logged_out"))

    async def delete(self, actor: Actor, instance_id: UUID) -> None:
        """Delete in Evolution; our row stays, as ``deleted``, with its whole history."""
        instance = await self.get(actor, instance_id)
        if instance.state is not InstanceState.DELETED:
            await self._evolution.delete(_ref(instance))
            await self._record(actor, instance_id, AuditAction.INSTANCE_DELETED,
                               LifecycleSignal(InstanceState.DELETED, "deleted_by_user"))

    async def status(self, actor: Actor, instance_id: UUID) -> dict[str, Any]:
        """Ask Evolution for the live state and reconcile ours with it."""
        instance = await self.get(actor, instance_id)
        evolution_state = await self._evolution.connection_state(_ref(instance))
        target = reconciled_state(instance.state, evolution_state)
        if target is not None:
            instance = await self._record(actor, instance_id, None, LifecycleSignal(target))
        return {"state": str(instance.state), "evolution_state": evolution_state,
                "checked_at": rfc3339(self._clock.now())}

    async def messages(self, actor: Actor, instance_id: UUID, limit: int,
                       cursor: str | None) -> dict[str, Any]:
        async with self._uow() as uow:
            await visible_instance(uow, actor, instance_id)
            page = await uow.messages.find(instance_id, limit, cursor)
        return {"items": [message_view(m) for m in page.items], "next_cursor": page.next_cursor}

    async def _record(self, actor: Actor, instance_id: UUID, action: AuditAction | None,
                      signal: LifecycleSignal) -> Instance:
        """Apply a user-caused move; the call itself is audited even if the state stays."""
        async with self._uow() as uow:
            instance = await visible_instance(uow, actor, instance_id, lock=True)
            now = self._clock.now()
            transition = await move(uow, instance, signal, actor, now)
            audited_by_move = transition.changed and transition.current in (
                InstanceState.LOGGED_OUT, InstanceState.DELETED)
            if action is not None and not audited_by_move:
                await uow.audit.append(audit_draft(actor, instance.organization_id, action, now,
                                                   instance_details(instance)))
            await uow.commit()
        return instance


def _ref(instance: Instance) -> InstanceRef:
    return InstanceRef(instance.evolution_name, instance.evolution_token)


def instance_page(page: Page[Instance]) -> dict[str, Any]:
    return {"items": [instance_view(i) for i in page.items], "next_cursor": page.next_cursor}

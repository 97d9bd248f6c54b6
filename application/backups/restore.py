"""Restore: bring back what a backup holds and is now missing, in Evolution and here."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

import structlog

from application.audit.drafts import audit_draft, instance_details
from application.errors import ApplicationError, Conflict, NotFound
from application.instances.organizations import OrganizationSecrets
from application.ports.backups import BackupStore, SecretSealer
from application.ports.evolution import CreateInstanceRequest, EvolutionGateway, InstanceRef
from application.ports.system import Clock, IdGenerator
from application.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory
from application.rollout.service import FLAG_AUDIT_ORG
from domain.access import Actor
from domain.audit import AuditAction
from domain.backup import (
    BackedUpInstance,
    BackedUpOrganization,
    Backup,
    Step,
    read_document,
    restore_step,
)
from domain.instance import Instance, InstanceState, LifecycleSignal, can_transition
from domain.organization import Organization
from domain.rollout import Flag, variants_from

log = structlog.get_logger(__name__)


class RestoreService:
    def __init__(self, uow: UnitOfWorkFactory, evolution: EvolutionGateway, store: BackupStore,
                 sealer: SecretSealer, secrets: OrganizationSecrets, clock: Clock,
                 ids: IdGenerator) -> None:
        self._uow = uow
        self._evolution = evolution
        self._store = store
        self._sealer = sealer
        self._secrets = secrets
        self._clock = clock
        self._ids = ids

    async def restore(self, actor: Actor, backup_id: str) -> dict[str, Any]:
        """Recreate what is missing, leave what exists untouched; idempotent.

        A document whose checksum fails is refused before anything changes. Each instance is
        restored on its own, so one Evolution refusal fails that instance and not the rest.
        """
        document = await self._store.get(backup_id)
        if document is None:
            raise NotFound(f"backup {backup_id} not found")
        backup = read_document(document)
        in_evolution = {r.name for r in await self._evolution.fetch_instances()}
        await self._organizations_and_flags(backup)
        restored: list[str] = []
        unchanged = 0
        failed: list[dict[str, str]] = []
        for item in backup.instances:
            try:
                if await self._instance(actor, item, item.evolution_name in in_evolution):
                    restored.append(item.evolution_name)
                else:
                    unchanged += 1
            except ApplicationError as exc:
                log.warning("instance_restore_failed", instance=item.evolution_name,
                            error=type(exc).__name__)
                failed.append({"evolution_name": item.evolution_name,
                               "error": type(exc).__name__, "detail": exc.detail})
        await self._audit(actor, backup, restored, unchanged, failed)
        return {"restored": len(restored), "unchanged": unchanged, "failed": failed}

    async def _organizations_and_flags(self, backup: Backup) -> None:
        async with self._uow() as uow:
            for org in backup.organizations:
                if await uow.organizations.get(org.id) is None:
                    await uow.organizations.add(self._organization(org))
            for flag in backup.flags:
                # A flag that exists keeps its value: a kill switch outlives the restore.
                if await uow.flags.get(flag["name"]) is None:
                    await uow.flags.save(_flag(flag))
            await uow.commit()

    async def _instance(self, actor: Actor, item: BackedUpInstance, in_evolution: bool) -> bool:
        async with self._uow() as uow:
            stored = await uow.instances.get_by_name(item.evolution_name)
            step = _step(item, in_evolution, stored)
            if step in (Step.NOTHING, Step.SKIP):
                return False
            if stored is None:
                stored = self._row(item)
                await uow.instances.add(stored)
                await uow.audit.append(audit_draft(
                    actor, stored.organization_id, AuditAction.INSTANCE_CREATED,
                    self._clock.now(), instance_details(stored, restored=True)))
            organization = await uow.organizations.get(stored.organization_id)
            await uow.commit()
        if step in (Step.EVOLUTION, Step.BOTH):
            if organization is None:
                raise NotFound(f"organization {stored.organization_id} is in no backup")
            await self._recreate(stored, organization)
        return True

    async def _recreate(self, instance: Instance, organization: Organization) -> None:
        webhook = self._secrets.webhook(organization.id, organization.webhook_secret)
        token = instance.evolution_token or ""
        try:
            await self._evolution.create_instance(
                CreateInstanceRequest(instance.evolution_name, token, webhook))
        except Conflict:
            # Created meanwhile (by a concurrent restore, or by hand): make it ours.
            await self._evolution.set_webhook(InstanceRef(instance.evolution_name, token),
                                              webhook)
        async with self._uow() as uow:
            stored = await uow.instances.get(instance.id, lock=True)
            if stored is not None:
                await _awaiting_scan(uow, stored, self._clock.now())
                await uow.commit()

    def _row(self, item: BackedUpInstance) -> Instance:
        now = self._clock.now()
        token = self._sealer.open(item.sealed_token) if item.sealed_token else self._ids.secret()
        return Instance(
            id=UUID(item.id), organization_id=item.organization_id,
            evolution_name=item.evolution_name, display_name=item.display_name,
            phone_number=item.phone_number, created_at=datetime.fromisoformat(item.created_at),
            updated_at=now, state=InstanceState.DISCONNECTED, state_reason="restored",
            evolution_token=token)

    def _organization(self, org: BackedUpOrganization) -> Organization:
        return Organization(
            org.id, self._sealer.open(org.sealed_secret),
            self._sealer.open(org.sealed_previous) if org.sealed_previous else None,
            datetime.fromisoformat(org.previous_valid_until) if org.previous_valid_until
            else None)

    async def _audit(self, actor: Actor, backup: Backup, restored: list[str], unchanged: int,
                     failed: list[dict[str, str]]) -> None:
        async with self._uow() as uow:
            await uow.audit.append(audit_draft(
                actor, FLAG_AUDIT_ORG, AuditAction.BACKUP_RESTORED, self._clock.now(),
                {"backup_id": backup.id, "schema_version": backup.schema_version,
                 "restored": restored, "unchanged": unchanged,
                 "failed": [f["evolution_name"] for f in failed]}))
            await uow.commit()


def _step(item: BackedUpInstance, in_evolution: bool, stored: Instance | None) -> Step:
    return restore_step(item, in_evolution, str(stored.state) if stored else None)


async def _awaiting_scan(uow: UnitOfWork, instance: Instance, at: datetime) -> None:
    """Recreated at Evolution: the instance waits for a scan, as after a quick-create."""
    target = InstanceState.AWAITING_QR
    if instance.state is not target and not can_transition(instance.state, target):
        target = InstanceState.DISCONNECTED
    instance.apply(LifecycleSignal(target, "restored"), at)
    instance.qr = None  # a QR of the lost Evolution instance can never be scanned
    await uow.instances.save(instance)


def _flag(value: Mapping[str, Any]) -> Flag:
    return Flag(value["name"], value["enabled"], value["percentage"],
                frozenset(value["allow_orgs"]), frozenset(value["deny_orgs"]),
                variants_from((v["name"], v["weight"]) for v in value["variants"]))

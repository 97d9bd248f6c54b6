"""Backups: take one checksummed document of Evolution and our store, list, download, prune."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog

from application.audit.drafts import audit_draft
from application.errors import NotFound, ValidationFailed
from application.pagination import DEFAULT_LIMIT, decode_cursor, encode_cursor
from application.ports.backups import BackupRecord, BackupStore, SecretSealer
from application.ports.evolution import EvolutionGateway, RemoteInstance
from application.ports.system import Clock, IdGenerator
from application.ports.unit_of_work import UnitOfWorkFactory
from application.presenters import rfc3339
from application.rollout.service import FLAG_AUDIT_ORG
from domain.access import Actor, Role
from domain.audit import AuditAction
from domain.backup import (
    SCHEMA_VERSION,
    BackedUpInstance,
    BackedUpOrganization,
    Backup,
    oldest_beyond,
    write_document,
)
from domain.instance import Instance
from domain.organization import Organization

log = structlog.get_logger(__name__)

SCHEDULE = Actor("worker:backup_schedule", Role.SYSTEM)  # who takes the leader's backups


class BackupService:
    def __init__(self, uow: UnitOfWorkFactory, evolution: EvolutionGateway, store: BackupStore,
                 sealer: SecretSealer, clock: Clock, ids: IdGenerator) -> None:
        self._uow = uow
        self._evolution = evolution
        self._store = store
        self._sealer = sealer
        self._clock = clock
        self._ids = ids

    async def create(self, actor: Actor) -> dict[str, Any]:
        """Evolution's instances, ours, each organization's webhook secrets (sealed) and the
        flags, as one document with its sha256. Evolution is asked first: a backup that cannot
        see Evolution is refused rather than taken half."""
        remote = await self._evolution.fetch_instances()
        now = self._clock.now()
        async with self._uow() as uow:
            instances = await uow.instances.all()
            organizations = [o for o in [await uow.organizations.get(org) for org in
                                         sorted({i.organization_id for i in instances})] if o]
            flags = await uow.flags.all()
        backup = Backup(
            id=str(self._ids.uuid()), created_at=rfc3339(now) or "",
            schema_version=SCHEMA_VERSION,
            instances=tuple(self._instance(i) for i in instances),
            organizations=tuple(self._organization(o) for o in organizations),
            evolution=tuple(_remote(r) for r in remote),
            flags=tuple({**f.as_dict(), "updated_at": rfc3339(f.updated_at),
                         "updated_by": f.updated_by} for f in flags))
        document, digest = write_document(backup)
        await self._store.put(BackupRecord(backup.id, now, len(instances), digest,
                                           len(document)), document)
        async with self._uow() as uow:
            await uow.audit.append(audit_draft(
                actor, FLAG_AUDIT_ORG, AuditAction.BACKUP_CREATED, now,
                {"backup_id": backup.id, "instances": len(instances), "sha256": digest}))
            await uow.commit()
        log.info("backup_created", backup_id=backup.id, instances=len(instances))
        return {"id": backup.id, "created_at": backup.created_at, "instances": len(instances),
                "sha256": digest}

    async def listing(self, limit: int = DEFAULT_LIMIT, cursor: str | None = None
                      ) -> dict[str, Any]:
        """Newest first, in pages; the retention count keeps the whole list small, so it is
        read once and cut here."""
        records = await self._store.list()
        if cursor is not None:
            after = _after(cursor)
            records = [r for r in records if (r.created_at, r.id) < after]
        page = records[:limit]
        last = page[-1] if len(records) > limit else None
        return {"items": [_record_view(r) for r in page],
                "next_cursor": None if last is None else encode_cursor(
                    last.created_at.isoformat(timespec="microseconds"), last.id)}

    async def download(self, backup_id: str) -> bytes:
        document = await self._store.get(backup_id)
        if document is None:
            raise NotFound(f"backup {backup_id} not found")
        return document

    async def take_scheduled(self, keep: int) -> dict[str, Any]:
        """The leader's job: one backup, then the oldest past the retention count go."""
        taken = await self.create(SCHEDULE)
        await self.prune(keep)
        return taken

    async def prune(self, keep: int) -> list[str]:
        """Let go of every backup past the newest ``keep``; return their ids."""
        gone = oldest_beyond([r.id for r in await self._store.list()], keep)
        for backup_id in gone:
            await self._store.remove(backup_id)
        return gone

    def _instance(self, i: Instance) -> BackedUpInstance:
        return BackedUpInstance(
            str(i.id), i.organization_id, i.evolution_name, i.display_name, i.phone_number,
            str(i.state), rfc3339(i.created_at) or "",
            self._sealer.seal(i.evolution_token) if i.evolution_token else None)

    def _organization(self, o: Organization) -> BackedUpOrganization:
        return BackedUpOrganization(
            o.id, self._sealer.seal(o.webhook_secret),
            self._sealer.seal(o.previous_secret) if o.previous_secret else None,
            rfc3339(o.previous_valid_until))


def _remote(r: RemoteInstance) -> dict[str, Any]:
    # Evolution's own token for the instance is a credential: ours is kept (sealed) above.
    return {"name": r.name, "evolution_id": r.evolution_id,
            "connection_status": r.connection_status, "owner_jid": r.owner_jid,
            "profile_name": r.profile_name}


def _after(cursor: str) -> tuple[datetime, str]:
    at, backup_id = decode_cursor(cursor, 2)
    try:
        return datetime.fromisoformat(at), backup_id
    except ValueError as exc:
        raise ValidationFailed({"cursor": ["is not a cursor this service issued"]}) from exc


def _record_view(r: BackupRecord) -> dict[str, Any]:
    return {"id": r.id, "created_at": rfc3339(r.created_at), "instances": r.instances,
            "sha256": r.sha256, "size": r.size}

"""Sync with Evolution: adopt the instances it holds that we do not know, report drift.

It lives beside backups because it is the same reconciliation as a restore seen from the other
side: a restore brings Evolution up to our record, a sync brings our record up to Evolution.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog

from application.audit.drafts import audit_draft, instance_details
from application.errors import Conflict
from application.instances.organizations import OrganizationSecrets
from application.ports.evolution import EvolutionGateway, InstanceRef, RemoteInstance
from application.ports.system import Clock, IdGenerator
from application.ports.telemetry import Alerter
from application.ports.unit_of_work import UnitOfWorkFactory
from domain.access import Actor
from domain.audit import AuditAction
from domain.instance import Instance
from domain.sync import Drift, Seen, adopted_state, drift

log = structlog.get_logger(__name__)

DRIFT_ALERT = "evolution_drift"


class SyncService:
    def __init__(self, uow: UnitOfWorkFactory, evolution: EvolutionGateway,
                 secrets: OrganizationSecrets, clock: Clock, ids: IdGenerator,
                 alerter: Alerter) -> None:
        self._uow = uow
        self._evolution = evolution
        self._secrets = secrets
        self._clock = clock
        self._ids = ids
        self._alerter = alerter

    async def sync(self, actor: Actor, mapping: Mapping[str, str], dry_run: bool
                   ) -> dict[str, Any]:
        """Adopt what only Evolution holds (its organization from ``mapping`` or the name's
        ``<orgId>-`` prefix) with our webhook registered on it; report every drift. A dry run
        reports what it would adopt and changes nothing."""
        remote, found = await self._compare(mapping)
        adopted: list[dict[str, str]] = []
        for name, org in found.adoptable:
            if dry_run or await self._adopt(actor, remote[name], org):
                adopted.append({"evolution_name": name, "organization_id": org})
        return {"adopted": adopted, "only_in_evolution": list(found.only_in_evolution),
                "only_here": list(found.only_here),
                "state_differs": [{"evolution_name": n, "state": ours, "evolution_state": theirs}
                                  for n, ours, theirs in found.state_differs],
                "dry_run": dry_run}

    async def report(self) -> Drift:
        """The leader's periodic check: report only, and alert while there is drift."""
        _, found = await self._compare({})
        if found.any:
            await self._alerter.alert(DRIFT_ALERT, _summary(found))
        else:
            await self._alerter.recover(DRIFT_ALERT)
        return found

    async def _compare(self, mapping: Mapping[str, str]
                       ) -> tuple[dict[str, RemoteInstance], Drift]:
        remote = {r.name: r for r in await self._evolution.fetch_instances()}
        async with self._uow() as uow:
            ours = await uow.instances.all()
        found = drift([Seen(r.name, r.connection_status) for r in remote.values()],
                      [Seen(i.evolution_name, str(i.state), i.organization_id) for i in ours],
                      mapping)
        return remote, found

    async def _adopt(self, actor: Actor, remote: RemoteInstance, org: str) -> bool:
        now = self._clock.now()
        async with self._uow() as uow:
            organization = await self._secrets.ensure(uow, org)
            instance = Instance(
                id=self._ids.uuid(), organization_id=org, evolution_name=remote.name,
                display_name=remote.profile_name, phone_number=None, created_at=now,
                updated_at=now, state=adopted_state(remote.connection_status),
                state_reason="adopted", profile_name=remote.profile_name,
                connected_at=now if remote.connection_status == "open" else None,
                evolution_token=remote.token)
            try:
                await uow.instances.add(instance)
            except Conflict:
                return False  # adopted meanwhile by another sync
            await uow.audit.append(audit_draft(actor, org, AuditAction.INSTANCE_CREATED, now,
                                               instance_details(instance, adopted=True)))
            await uow.commit()
        await self._evolution.set_webhook(InstanceRef(remote.name, remote.token),
                                          self._secrets.webhook(org, organization.webhook_secret))
        log.info("instance_adopted", instance_id=str(instance.id), organization_id=org)
        return True


def _summary(found: Drift) -> str:
    return (f"{len(found.adoptable) + len(found.only_in_evolution)} only in Evolution, "
            f"{len(found.only_here)} only here, {len(found.state_differs)} in another state")

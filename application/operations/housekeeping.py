"""The leader's small jobs: the audit retention purge and the gauges read from the store."""

from __future__ import annotations

from datetime import timedelta

import structlog

from application.ports.inbox import InboxStatus
from application.ports.operations import AuditRetention, JobLedger, WorkerHeartbeats
from application.ports.system import Clock
from application.ports.telemetry import Telemetry
from application.ports.unit_of_work import UnitOfWorkFactory
from domain.instance import InstanceState

log = structlog.get_logger(__name__)


class AuditPurge:
    """Deletes audit events past ``AUDIT_RETENTION_DAYS``, never one younger (the database
    itself refuses, whatever this computes)."""

    def __init__(self, retention: AuditRetention, clock: Clock, retention_days: int) -> None:
        self._retention = retention
        self._clock = clock
        self._days = retention_days

    async def purge(self) -> int:
        cutoff = self._clock.now() - timedelta(days=self._days)
        purged = await self._retention.purge(cutoff, self._days)
        if purged:
            log.info("audit_purged", events=purged, older_than=cutoff.isoformat())
        return purged


class OperationsRetention:
    """The operations store's own records are kept a while, then go: job runs after
    ``runs_days``, heartbeats of workers silent for ``heartbeats_days``."""

    def __init__(self, ledger: JobLedger, heartbeats: WorkerHeartbeats, clock: Clock,
                 runs_days: float = 7, heartbeats_days: float = 1) -> None:
        self._ledger = ledger
        self._heartbeats = heartbeats
        self._clock = clock
        self._runs = timedelta(days=runs_days)
        self._beats = timedelta(days=heartbeats_days)

    async def purge(self) -> int:
        now = self._clock.now()
        return (await self._ledger.forget(now - self._runs)
                + await self._heartbeats.forget(now - self._beats))


class StoreGauges:
    """Instances by state and the inbox's backlog, counted in the store, reported as gauges."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, telemetry: Telemetry) -> None:
        self._uow = uow
        self._clock = clock
        self._telemetry = telemetry

    async def refresh(self) -> None:
        async with self._uow() as uow:
            counted = await uow.instances.count_by_state()
            by_state = {str(s): counted.get(s, 0) for s in InstanceState}
            counts = await uow.inbox.counts()
            oldest = await uow.inbox.oldest_pending_at()
        age = 0.0 if oldest is None else max(0.0, (self._clock.now() - oldest).total_seconds())
        self._telemetry.instances_counted(by_state)
        self._telemetry.inbox_measured(
            pending=counts[InboxStatus.PENDING] + counts[InboxStatus.PROCESSING],
            oldest_pending_age_s=age, dead=counts[InboxStatus.DEAD])

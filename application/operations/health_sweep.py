"""The health sweep: ask Evolution about every connected instance, and believe it.

A phone that unlinks does not always send a webhook; between webhooks only Evolution's live
``connectionState`` tells. The sweep is one of the leader's periodic jobs.
"""

from __future__ import annotations

import attrs
import structlog

from application.errors import ApplicationError
from application.instances.lifecycle import move
from application.ports.evolution import EvolutionGateway, InstanceRef
from application.ports.repositories import InstanceQuery
from application.ports.system import Clock
from application.ports.telemetry import Alerter
from application.ports.unit_of_work import UnitOfWorkFactory
from domain.access import SYSTEM_ACTOR
from domain.instance import Instance, InstanceState, LifecycleSignal, reconciled_state

log = structlog.get_logger(__name__)
DISCONNECTED_ALERT = "instance_disconnected"
SWEEP_REASON = "health_sweep"
_PAGE = 200


@attrs.frozen
class SweepResult:
    checked: int
    moved: int
    unreachable: int


class HealthSweep:
    def __init__(self, uow: UnitOfWorkFactory, evolution: EvolutionGateway, clock: Clock,
                 alerter: Alerter) -> None:
        self._uow = uow
        self._evolution = evolution
        self._clock = clock
        self._alerter = alerter

    async def sweep(self) -> SweepResult:
        """Check each connected instance once; move those Evolution no longer has open (saved,
        audited ``connection_lost``, alerted). An instance Evolution cannot be asked about is
        left as it is: no answer is not news."""
        checked = moved = unreachable = 0
        cursor: str | None = None
        while True:
            async with self._uow() as uow:
                page = await uow.instances.find(InstanceQuery(
                    state=InstanceState.CONNECTED, limit=_PAGE, cursor=cursor))
            for instance in page.items:
                checked += 1
                try:
                    live = await self._evolution.connection_state(
                        InstanceRef(instance.evolution_name, instance.evolution_token))
                except ApplicationError as exc:
                    unreachable += 1
                    log.info("sweep_unreachable", instance=str(instance.id),
                             error=type(exc).__name__)
                    continue
                if reconciled_state(instance.state, live) is not None:
                    moved += await self._reconcile(instance, live)
            cursor = page.next_cursor
            if cursor is None:
                return SweepResult(checked, moved, unreachable)

    async def _reconcile(self, seen: Instance, live: str) -> int:
        async with self._uow() as uow:
            instance = await uow.instances.get(seen.id, lock=True)
            # A webhook may have moved it since the page was read: judge the current row.
            target = None if instance is None else reconciled_state(instance.state, live)
            if instance is None or target is None:
                return 0
            transition = await move(uow, instance, LifecycleSignal(target, SWEEP_REASON),
                                    SYSTEM_ACTOR, self._clock.now())
            await uow.commit()
        if not transition.changed:
            return 0
        log.info("sweep_reconciled", instance=str(instance.id), evolution_state=live,
                 previous=str(transition.previous), state=str(transition.current))
        if transition.current is InstanceState.DISCONNECTED:
            await self._alerter.alert(
                DISCONNECTED_ALERT,
                f"instance {instance.id} of {instance.organization_id} is disconnected "
                f"(seen by the health sweep)", key=str(instance.id))
        return 1

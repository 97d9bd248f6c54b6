"""The QR connect flow: the current QR fast, and a live stream of QRs and states."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from datetime import timedelta
from typing import Any
from uuid import UUID

import attrs
import structlog

from application.access import visible_instance
from application.errors import Conflict, UpstreamTimeout
from application.instances.lifecycle import move, show_qr
from application.instances.single_flight import SingleFlight
from application.ports.evolution import ConnectStatus, EvolutionGateway, InstanceRef
from application.ports.notifier import INSTANCE_TOPIC, Notifier
from application.ports.qr_images import QrImages
from application.ports.system import Clock
from application.ports.telemetry import Telemetry
from application.ports.unit_of_work import UnitOfWorkFactory
from application.presenters import qr_view
from application.rollout.flagged_path import OutcomeWindow
from domain.access import SYSTEM_ACTOR, Actor
from domain.instance import Instance, InstanceState, LifecycleSignal, QrCode

log = structlog.get_logger(__name__)


@attrs.frozen
class ConnectPolicy:
    timeout_s: float = 5.0
    cache_ttl_s: float = 30.0


@attrs.frozen
class ConnectView:
    state: InstanceState
    qr: QrCode | None

    def as_dict(self) -> dict[str, Any]:
        return {"state": str(self.state), "qr": qr_view(self.qr)}


class ConnectService:
    def __init__(self, uow: UnitOfWorkFactory, evolution: EvolutionGateway, notifier: Notifier,
                 clock: Clock, telemetry: Telemetry, policy: ConnectPolicy,
                 flagged_path: OutcomeWindow, qr_images: QrImages) -> None:
        self._uow = uow
        self._images = qr_images
        self._evolution = evolution
        self._notifier = notifier
        self._clock = clock
        self._telemetry = telemetry
        self._policy = policy
        self._flagged_path = flagged_path
        self._flight: SingleFlight[Instance] = SingleFlight()

    async def connect(self, actor: Actor, instance_id: UUID) -> ConnectView:
        """The QR to scan: cached while valid, else the first from Evolution's answer or webhook.

        Concurrent calls for one instance share one Evolution request.
        """
        async with self._uow() as uow:
            instance = await visible_instance(uow, actor, instance_id)
        return await self.current(instance)

    async def current(self, instance: Instance) -> ConnectView:
        if instance.state is InstanceState.CONNECTED:
            return ConnectView(instance.state, None)
        if instance.state is InstanceState.DELETED:
            raise Conflict("the instance is deleted")
        cached = instance.fresh_qr(self._clock.now(), timedelta(seconds=self._policy.cache_ttl_s))
        if cached is not None:
            return ConnectView(instance.state, cached)
        fetched = await self._flight.run(instance.id, lambda: self._fetch(instance))
        return ConnectView(fetched.state, fetched.qr)

    async def open_socket(self, created: Instance) -> None:
        """Background step after a create: ask Evolution to start producing QRs.

        ``created`` is the instance as its create stored it: name and token are all the call
        needs, and they never change, so it is not read again.
        """
        await self._flight.run(created.id, lambda: self._fetch(created))

    async def _fetch(self, instance: Instance) -> Instance:
        started = self._clock.monotonic()
        try:
            async with self._notifier.subscribe(INSTANCE_TOPIC.format(instance.id)) as signals:
                stored = await self._race_connect_and_webhook(instance, signals)
        except (TimeoutError, UpstreamTimeout) as exc:
            self._flagged_path.record(False, started)
            self._telemetry.error("qr_timeout")
            self._telemetry.qr_failed("timeout")
            raise UpstreamTimeout("Evolution produced no QR in time") from exc
        except Exception as exc:
            self._flagged_path.record(False, started)
            self._telemetry.qr_failed(type(exc).__name__)
            raise
        self._flagged_path.record(True, started)
        self._telemetry.qr_generated(self._clock.monotonic() - started)
        if not stored:
            return instance
        async with self._uow() as uow:
            reloaded = await uow.instances.get(instance.id)
        return reloaded or instance

    async def _race_connect_and_webhook(
        self, instance: Instance, signals: AsyncIterator[Mapping[str, Any]]
    ) -> bool:
        """Done when a QR (or the connection) is stored, from the answer or a webhook.

        False when Evolution answered with the QR ``instance`` already shows: nothing was
        stored, and ``instance`` is still what the store holds (as far as this call knows).
        """
        ref = InstanceRef(instance.evolution_name, instance.evolution_token)
        webhook = asyncio.ensure_future(_next_qr_or_open(signals))
        answer = asyncio.ensure_future(self._evolution.connect(ref))
        try:
            async with asyncio.timeout(self._policy.timeout_s):
                await asyncio.wait({webhook, answer}, return_when=asyncio.FIRST_COMPLETED)
                if not answer.done():
                    return True  # the webhook won: its QR is already stored
                result = answer.result()
                if result.status is ConnectStatus.QR and result.qr is not None:
                    if instance.shows(result.qr.code):
                        return False  # a connect while the socket is open: the same QR
                    qr = QrCode.issue(result.qr.code, result.qr.base64, result.qr.pairing_code,
                                      self._clock.now())
                    await self._record(instance.id, qr=qr)
                elif result.status is ConnectStatus.OPEN:
                    await self._record(instance.id, opened=True)
                else:
                    await webhook
                return True
        finally:
            for task in (webhook, answer):
                task.cancel()
            await asyncio.wait({webhook, answer})
            for task in (webhook, answer):
                if not task.cancelled():
                    task.exception()  # retrieved: a late failure is not "never retrieved"

    async def _record(self, instance_id: UUID, *, qr: QrCode | None = None,
                      opened: bool = False) -> None:
        async with self._uow() as uow:
            instance = await uow.instances.get(instance_id, lock=True)
            if instance is None:
                return
            now = self._clock.now()
            if qr is not None:
                await show_qr(uow, instance, qr, SYSTEM_ACTOR, now, self._images)
            if opened:
                await move(uow, instance, LifecycleSignal(InstanceState.CONNECTED), SYSTEM_ACTOR,
                           now)
            await uow.commit()


async def _next_qr_or_open(signals: AsyncIterator[Mapping[str, Any]]) -> None:
    async for payload in signals:
        if payload.get("kind") == "qr" or payload.get("state") == str(InstanceState.CONNECTED):
            return

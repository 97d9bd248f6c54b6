"""One-click create (API.md section 4): gate, create, open the socket, answer within a second."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import attrs

from application.access import target_organization
from application.errors import Conflict, IdempotencyMismatch, UpstreamTimeout
from application.instances.background import BackgroundTasks
from application.instances.connect import ConnectService
from application.instances.service import InstanceService, NewInstance
from application.instances.single_flight import SingleFlight
from application.ports.repositories import StoredResponse
from application.ports.system import Clock
from application.ports.unit_of_work import UnitOfWorkFactory
from application.presenters import instance_view, qr_view
from application.rollout.service import RolloutService
from domain.access import Actor
from domain.instance import Instance, QrCode
from domain.rollout import RADICAL_SOLUTION

IDEMPOTENCY_WINDOW = timedelta(hours=24)


@attrs.frozen
class QuickCreate:
    organization_id: str | None = None
    display_name: str | None = None
    phone_number: str | None = None
    wait_for_qr: bool = False
    idempotency_key: str | None = None
    request_hash: str = ""


class QuickCreateService:
    def __init__(self, uow: UnitOfWorkFactory, instances: InstanceService, connect: ConnectService,
                 rollout: RolloutService, background: BackgroundTasks, clock: Clock,
                 qr_timeout_s: float) -> None:
        self._uow = uow
        self._background = background
        self._instances = instances
        self._connect = connect
        self._rollout = rollout
        self._clock = clock
        self._qr_timeout_s = qr_timeout_s
        self._flight: SingleFlight[tuple[str, dict[str, Any]]] = SingleFlight()

    async def quick_create(self, actor: Actor, command: QuickCreate) -> dict[str, Any]:
        """Create an instance with one Evolution call and return its stream URL at once.

        The QR arrives on the stream; with ``wait_for_qr`` the answer waits (bounded) for it.
        The same ``Idempotency-Key`` and body within 24 hours replays the first answer.
        """
        org = target_organization(actor, command.organization_id)
        await self._rollout.require(RADICAL_SOLUTION, org)
        key = command.idempotency_key
        if key is None:
            return await self._create(actor, org, command)
        # Concurrent callers share the first one's answer, so compare hashes after the flight.
        first_hash, body = await self._flight.run(
            (org, key), lambda: self._once(actor, org, key, command))
        if first_hash != command.request_hash:
            raise IdempotencyMismatch("this Idempotency-Key was used with another body")
        return body

    async def _once(self, actor: Actor, org: str, key: str,
                    command: QuickCreate) -> tuple[str, dict[str, Any]]:
        async with self._uow() as uow:
            stored = await uow.idempotency.get(org, key, self._clock.now() - IDEMPOTENCY_WINDOW)
        if stored is not None:
            return stored.request_hash, dict(stored.body)
        body = await self._create(actor, org, command)
        async with self._uow() as uow:
            try:
                now = self._clock.now()
                await uow.idempotency.put(org, key, StoredResponse(
                    command.request_hash, 201, body, now), now - IDEMPOTENCY_WINDOW)
                await uow.commit()
            except Conflict:
                pass  # another replica answered first; both answers name real instances
        return command.request_hash, body

    async def _create(self, actor: Actor, org: str, command: QuickCreate) -> dict[str, Any]:
        instance = await self._instances.create(
            actor, NewInstance(org, command.display_name, command.phone_number))
        qr: QrCode | None = None
        if command.wait_for_qr:
            instance, qr = await self._first_qr(instance)
        else:
            self._background.spawn(self._connect.open_socket(instance),
                                   name=f"open-socket-{instance.id}")
        return {"instance": instance_view(instance), "qr": qr_view(qr)}

    async def _first_qr(self, instance: Instance) -> tuple[Instance, QrCode | None]:
        try:
            async with asyncio.timeout(self._qr_timeout_s):
                view = await self._connect.current(instance)
        except (TimeoutError, UpstreamTimeout):
            return instance, None  # the stream will still deliver it
        async with self._uow() as uow:
            reloaded = await uow.instances.get(instance.id)
        return reloaded or instance, view.qr

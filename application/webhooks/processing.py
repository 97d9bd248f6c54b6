"""Processing acknowledged webhooks: at least once, idempotent in effect, bounded in time."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from uuid import UUID

import attrs
import structlog

from application.instances.lifecycle import move, show_qr
from application.json_input import parse_json
from application.ports.inbox import InboxEvent
from application.ports.qr_images import QrImages
from application.ports.system import Clock
from application.ports.telemetry import Alerter, Telemetry
from application.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory
from domain.access import EVOLUTION_ACTOR
from domain.alerts import INSTANCE_DISCONNECTED
from domain.instance import Instance, InstanceState, Outcome
from domain.webhook import (
    LIFECYCLE_EVENTS,
    DomainEvent,
    MessageReceived,
    MessageStatusChanged,
    QrUpdated,
    StateSignalled,
    interpret,
    parse_envelope,
)

log = structlog.get_logger(__name__)


@attrs.frozen
class ProcessingPolicy:
    timeout_s: float = 2.0
    max_attempts: int = 8
    batch: int = 50
    lease_s: float = 30.0
    backoff_s: float = 0.5
    backoff_max_s: float = 300.0
    concurrency: int = 8  # events of one batch in flight at once (each holds a connection)
    # Processed events are deleted after this long: their effect is stored elsewhere, and the
    # raw bodies carry patients' messages, which are kept no longer than they are useful.
    retention_s: float = 7 * 86_400.0


@attrs.frozen
class Schedule:
    """How one claimed batch is applied. Messages change no instance: they go in one
    transaction ``together``. Lifecycle events go one per transaction, each instance's
    ``in_order`` claimed (the order received), so that a newer QR never overtakes an older
    one and makes it stale."""

    together: list[InboxEvent]
    in_order: list[list[InboxEvent]]


def schedule(events: list[InboxEvent]) -> Schedule:
    together: list[InboxEvent] = []
    per_instance: dict[str, list[InboxEvent]] = {}
    for event in events:
        if event.event in LIFECYCLE_EVENTS:
            per_instance.setdefault(event.instance_name, []).append(event)
        else:
            together.append(event)
    return Schedule(together, list(per_instance.values()))


class WebhookProcessor:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, telemetry: Telemetry,
                 alerter: Alerter, policy: ProcessingPolicy, qr_images: QrImages) -> None:
        self._uow = uow
        self._images = qr_images
        self._clock = clock
        self._telemetry = telemetry
        self._alerter = alerter
        # State changes seen in the transaction under way, announced once it committed.
        self._moved: dict[str, tuple[Instance, InstanceState]] = {}
        self._policy = policy
        self._instance_ids: dict[str, UUID] = {}

    async def process_due(self) -> int:
        """Claim a batch of due events and process each; returns how many were claimed."""
        async with self._uow() as uow:
            events = await uow.inbox.claim(self._policy.batch, self._clock.now(),
                                           timedelta(seconds=self._policy.lease_s))
            await uow.commit()
        plan = schedule(events)
        finished: set[UUID] = set()
        slots = asyncio.Semaphore(self._policy.concurrency)

        async def alone(event: InboxEvent) -> None:
            async with slots:
                await self._process(event)
                finished.add(event.id)

        async def together(batch: list[InboxEvent]) -> None:
            if batch and await self._process_together(batch):
                finished.update(e.id for e in batch)
            else:  # one bad event must not hold back the others: each goes on its own
                await asyncio.gather(*(alone(event) for event in batch))

        async def in_order(of_one_instance: list[InboxEvent]) -> None:
            for event in of_one_instance:
                await alone(event)

        try:
            await asyncio.gather(together(plan.together),
                                 *(in_order(group) for group in plan.in_order))
        except asyncio.CancelledError:
            # Stopping: hand back what we claimed but did not finish, instead of letting it
            # wait out its lease on another worker.
            await asyncio.shield(self._release([e for e in events if e.id not in finished]))
            raise
        return len(events)

    async def purge_processed(self) -> int:
        """Delete the events processed longer ago than the retention, in short batches so
        intake is never held up; returns how many. Safe on several workers at once."""
        before = self._clock.now() - timedelta(seconds=self._policy.retention_s)
        size, purged = self._policy.batch * 20, 0
        while True:
            async with self._uow() as uow:
                deleted = await uow.inbox.purge(before, size)
                await uow.commit()
            purged += deleted
            if deleted < size:
                return purged

    async def _release(self, events: list[InboxEvent]) -> None:
        async with self._uow() as uow:
            for event in events:
                await uow.inbox.retry_later(event.id, "released at shutdown", self._clock.now())
            await uow.commit()

    async def _process_together(self, events: list[InboxEvent]) -> bool:
        """All events' effects and ``done`` marks in one transaction; False if any failed."""
        started = self._clock.monotonic()
        try:
            async with asyncio.timeout(self._policy.timeout_s), self._uow() as uow:
                outcomes = [await self._apply(uow, event) for event in events]
                await uow.commit()
        except Exception as exc:
            log.info("batch_fell_back", events=len(events), error=type(exc).__name__)
            return False
        share = (self._clock.monotonic() - started) / len(events)
        for event, outcome in zip(events, outcomes, strict=True):
            self._telemetry.webhook_processed(event.event, outcome, share)
        return True

    async def _process(self, event: InboxEvent) -> None:
        """The event's effect and the inbox's ``done`` commit together: exactly once in effect."""
        started = self._clock.monotonic()
        try:
            async with asyncio.timeout(self._policy.timeout_s), self._uow() as uow:
                outcome = await self._apply(uow, event)
                await uow.commit()
        except Exception as exc:  # one poisoned event must never stop the worker
            outcome = "failed"
            self._moved.pop(event.instance_name, None)
            await self._failed(event, exc)
        self._telemetry.webhook_processed(event.event, outcome,
                                          self._clock.monotonic() - started)
        await self._announce_move(event.instance_name)

    async def _apply(self, uow: UnitOfWork, event: InboxEvent) -> str:
        """The event's effect within ``uow``, and its ``done`` mark; returns the outcome."""
        envelope = parse_envelope(parse_json(event.body))
        meaning = interpret(envelope, self._clock.now())
        if isinstance(meaning, QrUpdated | StateSignalled):
            # A change of the instance itself: its row is locked until commit.
            instance = await uow.instances.get_by_name(event.instance_name, lock=True)
            outcome = "unknown_instance" if instance is None else await self._change(
                uow, instance, meaning, envelope.date_time)
        else:
            instance_id = await self._instance_id(uow, event.instance_name)
            outcome = "unknown_instance" if instance_id is None else await self._record(
                uow, instance_id, meaning)
        await uow.inbox.complete(event.id, outcome)
        return outcome

    async def _change(self, uow: UnitOfWork, instance: Instance,
                      meaning: QrUpdated | StateSignalled, evolution_time: datetime | None) -> str:
        if isinstance(meaning, QrUpdated):
            transition = await show_qr(uow, instance, meaning.qr, EVOLUTION_ACTOR,
                                       meaning.qr.issued_at, self._images, evolution_time)
            return str(transition.outcome)
        transition = await move(uow, instance, meaning.signal, EVOLUTION_ACTOR, self._clock.now())
        if transition.changed:
            self._moved[instance.evolution_name] = (instance, transition.current)
        if transition.outcome is Outcome.ILLEGAL:
            log.info("transition_ignored", instance_id=str(instance.id),
                     current=str(transition.current), target=str(meaning.signal.target))
        return str(transition.outcome)

    async def _announce_move(self, name: str) -> None:
        """After the commit, so that no alert tells of a change that was rolled back."""
        moved = self._moved.pop(name, None)
        if moved is None:
            return
        instance, state = moved
        if state is InstanceState.DISCONNECTED:
            await self._alerter.alert(INSTANCE_DISCONNECTED, f"instance {instance.id} of "
                                      f"{instance.organization_id} is disconnected (webhook)",
                                      key=str(instance.id))
        elif state is InstanceState.CONNECTED:
            await self._alerter.recover(INSTANCE_DISCONNECTED, key=str(instance.id))

    async def _record(self, uow: UnitOfWork, instance_id: UUID, meaning: DomainEvent) -> str:
        if isinstance(meaning, MessageReceived):
            new = await uow.messages.upsert(instance_id, meaning.message)
            return "stored" if new else "duplicate"
        if isinstance(meaning, MessageStatusChanged):
            known = await uow.messages.set_status(instance_id, meaning.message_id, meaning.status)
            return "updated" if known else "unknown_message"
        return "unhandled"

    async def _instance_id(self, uow: UnitOfWork, name: str) -> UUID | None:
        # Ids never change and names are unique, so a found name may be remembered for good;
        # messages then cost no instance read at all.
        if name not in self._instance_ids:
            instance = await uow.instances.get_by_name(name)
            if instance is None:
                return None
            if len(self._instance_ids) >= 100_000:
                self._instance_ids.clear()
            self._instance_ids[name] = instance.id
        return self._instance_ids[name]

    async def _failed(self, event: InboxEvent, exc: Exception) -> None:
        error = f"{type(exc).__name__}: {str(exc)[:200]}"
        log.warning("webhook_processing_failed", event_id=str(event.id), webhook_event=event.event,
                    attempts=event.attempts, error=type(exc).__name__)
        self._telemetry.error("webhook_processing")
        async with self._uow() as uow:
            if event.attempts >= self._policy.max_attempts:
                await uow.inbox.park(event.id, error)
            else:
                delay = min(self._policy.backoff_max_s,
                            self._policy.backoff_s * 2 ** max(0, event.attempts - 1))
                await uow.inbox.retry_later(event.id, error,
                                            self._clock.now() + timedelta(seconds=delay))
            await uow.commit()
        if event.attempts >= self._policy.max_attempts:
            await self._alerter.alert("webhook_dead_lettered",
                                      f"event {event.id} ({event.event}) parked after "
                                      f"{event.attempts} attempts")

"""The live QR stream (API.md section 6): QRs and states as they happen, until connected."""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections import Counter
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from contextlib import aclosing, suppress
from typing import Any
from uuid import UUID

import attrs
import structlog

from application.access import visible_instance
from application.errors import ApplicationError, RateLimited
from application.instances.connect import ConnectService
from application.ports.notifier import INSTANCE_TOPIC, Notifier
from application.ports.system import Clock
from application.ports.unit_of_work import UnitOfWorkFactory
from application.presenters import qr_view
from domain.access import Actor
from domain.instance import Instance, InstanceState

log = structlog.get_logger(__name__)
# An event id is "<sequence>.<tag of the last QR sent>" ("-" before any), so a client that
# reconnects with Last-Event-ID tells the new stream which QR it already shows.
_EVENT_ID = re.compile(r"([0-9]{1,9})\.([0-9a-f]{16}|-)")


@attrs.frozen
class StreamPolicy:
    refresh_s: float = 30.0
    max_s: float = 300.0
    ping_s: float = 15.0
    max_per_org: int = 20


@attrs.frozen
class StreamEvent:
    event: str  # qr | state | connected | timeout | ping | error
    data: Mapping[str, Any] | None = None
    id: str | None = attrs.field(default=None, eq=False)  # every event but a ping has one


class QrStreamService:
    def __init__(self, uow: UnitOfWorkFactory, connect: ConnectService, notifier: Notifier,
                 clock: Clock, policy: StreamPolicy) -> None:
        self._uow = uow
        self._connect = connect
        self._notifier = notifier
        self._clock = clock
        self._policy = policy
        self._open: Counter[str] = Counter()

    async def open(self, actor: Actor, instance_id: UUID,
                   last_event_id: str | None = None) -> QrStream:
        """Check access and the per-organization limit now, so refusals are plain errors.

        ``last_event_id`` (a reconnecting client's) resumes: the QR it names is not sent again.
        """
        async with self._uow() as uow:
            instance = await visible_instance(uow, actor, instance_id)
        org = instance.organization_id
        if self._open[org] >= self._policy.max_per_org:
            raise RateLimited("too many open QR streams for this organization", retry_after_s=5)
        self._open[org] += 1
        return QrStream(self._events(instance, last_event_id), lambda: self._release(org))

    def _release(self, organization_id: str) -> None:
        self._open[organization_id] -= 1
        if self._open[organization_id] <= 0:
            del self._open[organization_id]

    @property
    def open_streams(self) -> int:
        return sum(self._open.values())

    async def _events(self, instance: Instance,
                      last_event_id: str | None) -> AsyncGenerator[StreamEvent, None]:
        queue: asyncio.Queue[Mapping[str, Any]] = asyncio.Queue(maxsize=64)
        session = _Session(self._connect, self._uow, self._clock, self._policy, instance, queue,
                           last_event_id)
        async with self._notifier.subscribe(INSTANCE_TOPIC.format(instance.id)) as signals:
            pump = asyncio.ensure_future(_pump(signals, queue))
            try:
                async with aclosing(session.run()) as events:
                    async for event in events:
                        yield event
            finally:
                pump.cancel()
                with suppress(asyncio.CancelledError):
                    await pump


class QrStream:
    """One client's stream. Its slot is released exactly once, however it ends: exhausted,
    failed, or closed before its first event (a generator never started runs no ``finally``).
    """

    def __init__(self, events: AsyncGenerator[StreamEvent, None],
                 release: Callable[[], None]) -> None:
        self._events = events
        self._release: Callable[[], None] | None = release

    def __aiter__(self) -> QrStream:
        return self

    async def __anext__(self) -> StreamEvent:
        try:
            return await self._events.__anext__()
        except BaseException:
            self._release_once()
            raise

    async def aclose(self) -> None:
        try:
            await self._events.aclose()
        finally:
            self._release_once()

    def _release_once(self) -> None:
        release, self._release = self._release, None
        if release is not None:
            release()


async def _pump(signals: AsyncIterator[Mapping[str, Any]],
                queue: asyncio.Queue[Mapping[str, Any]]) -> None:
    # Waiting on a queue can time out safely; waiting on the subscription itself may not.
    async for payload in signals:
        if queue.full():
            queue.get_nowait()
        queue.put_nowait(payload)


class _Session:
    """One client's stream: its deadlines and the last QR and state it was sent."""

    def __init__(self, connect: ConnectService, uow: UnitOfWorkFactory, clock: Clock,
                 policy: StreamPolicy, instance: Instance,
                 queue: asyncio.Queue[Mapping[str, Any]], last_event_id: str | None) -> None:
        self._connect = connect
        self._uow = uow
        self._clock = clock
        self._policy = policy
        self._instance = instance
        self._queue = queue
        resumed = _EVENT_ID.fullmatch(last_event_id or "")
        self._seq = int(resumed.group(1)) if resumed else 0
        self._sent_qr: str | None = None if not resumed or resumed.group(2) == "-" \
            else resumed.group(2)
        self._sent_state: InstanceState | None = None
        now = clock.monotonic()
        self._deadline = now + policy.max_s
        self._next_ping = now + policy.ping_s
        self._next_refresh = now

    async def run(self) -> AsyncGenerator[StreamEvent, None]:
        async with aclosing(self._events()) as events:
            async for event in events:
                if event.event != "ping":
                    self._seq += 1
                    event = attrs.evolve(event, id=f"{self._seq}.{self._sent_qr or '-'}")
                yield event

    async def _events(self) -> AsyncGenerator[StreamEvent, None]:
        for event in self._state_events():
            yield event
        if self._connected():
            return
        while True:
            now = self._clock.monotonic()
            if now >= self._deadline:
                yield StreamEvent("timeout", {"after_s": self._policy.max_s})
                return
            if now >= self._next_refresh:
                async for event in self._refresh():
                    yield event
            if now >= self._next_ping:
                self._next_ping = now + self._policy.ping_s
                yield StreamEvent("ping")
            if await self._wait_for_signal():
                for event in self._state_events():
                    yield event
                if self._connected():
                    return
                if (qr := self._new_qr()) is not None:
                    yield qr

    async def _refresh(self) -> AsyncGenerator[StreamEvent, None]:
        self._next_refresh = self._clock.monotonic() + self._policy.refresh_s
        try:
            view = await self._connect.current(self._instance)
        except ApplicationError as exc:
            yield StreamEvent("error", {"title": type(exc).__name__, "detail": exc.detail})
            return
        self._instance.qr = view.qr
        if (qr := self._new_qr()) is not None:
            yield qr

    async def _wait_for_signal(self) -> bool:
        now = self._clock.monotonic()
        wait = max(0.0, min(self._deadline, self._next_ping, self._next_refresh) - now)
        try:
            async with asyncio.timeout(wait):
                await self._queue.get()
        except TimeoutError:
            return False
        async with self._uow() as uow:
            reloaded = await uow.instances.get(self._instance.id)
        if reloaded is not None:
            self._instance = reloaded
        return True

    def _connected(self) -> bool:
        return self._instance.state is InstanceState.CONNECTED

    def _state_events(self) -> list[StreamEvent]:
        state = self._instance.state
        if state is self._sent_state:
            return []
        if state is InstanceState.CONNECTING and self._sent_qr is None:
            return []  # a screen told "connecting" with no QR to scan yet would flash
        self._sent_state = state
        events = [StreamEvent("state", {"state": str(state),
                                        "state_reason": self._instance.state_reason})]
        if state is InstanceState.CONNECTED:
            events.append(StreamEvent("connected", {"phone_number": self._instance.phone_number,
                                                    "profile_name": self._instance.profile_name}))
        return events

    def _new_qr(self) -> StreamEvent | None:
        qr = self._instance.qr
        if qr is None or _tag(qr.code) == self._sent_qr:
            return None
        self._sent_qr = _tag(qr.code)
        self._next_refresh = self._clock.monotonic() + self._policy.refresh_s
        return StreamEvent("qr", qr_view(qr))


def _tag(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()[:16]

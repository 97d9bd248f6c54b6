"""The alert engine: observations in, shared state decided, notices out to every channel."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Sequence
from typing import Any

import attrs
import structlog

from application.ports.alerts import AlertChannel, AlertRecord, AlertStore
from application.ports.system import Clock, IdGenerator
from application.ports.telemetry import Alerter, Telemetry
from domain.alerts import AlertPolicy, AlertState, Decision, Notice, observe

log = structlog.get_logger(__name__)


@attrs.frozen
class DeliveryPolicy:
    attempts: int = 4
    backoff_s: float = 0.5
    timeout_s: float = 10.0
    # Good news for a rule that fires on one bad observation only matters while it fires; a
    # replica that has not seen it fire writes it at most this often, to hear of others'.
    clear_write_s: float = 5.0
    max_pending: int = 1_000


class AlertEngine(Alerter):
    """Decides every observation on the shared store (one replica at a time), then sends each
    notice to every channel in the background: a slow or failing channel never holds up the
    others, nor the request or worker that made the observation."""

    def __init__(self, store: AlertStore, channels: Sequence[AlertChannel], clock: Clock,
                 ids: IdGenerator, telemetry: Telemetry, policy: AlertPolicy,
                 delivery: DeliveryPolicy) -> None:
        self._store = store
        self._channels = tuple(channels)
        self._clock = clock
        self._ids = ids
        self._telemetry = telemetry
        self._policy = policy
        self._delivery = delivery
        self._tasks: set[asyncio.Task[Any]] = set()
        self._firing: set[tuple[str, str]] = set()
        # Tasks take this in the order they were spawned (asyncio.Lock is first come, first
        # served), so one process's observations of a rule reach the store in their order.
        self._order: dict[tuple[str, str], asyncio.Lock] = {}
        self._cleared_at: dict[tuple[str, str], float] = {}

    @property
    def policy(self) -> AlertPolicy:
        return self._policy

    async def alert(self, name: str, detail: str, key: str = "") -> None:
        await self._decide(name, key, bad=True, detail=detail)

    async def recover(self, name: str, key: str = "") -> None:
        await self._decide(name, key, bad=False, detail="")

    def observe(self, rule: str, key: str = "", *, bad: bool, detail: str = "") -> None:
        """For measurement hooks that cannot wait: decided in the background."""
        if not bad and not self._worth_clearing(rule, key):
            return
        if len(self._tasks) >= self._delivery.max_pending:
            log.warning("alert_observation_dropped", rule=rule)
            return
        self._spawn(self._decide(rule, key, bad=bad, detail=detail), f"alert:{rule}")

    async def recent(self, limit: int = 50) -> list[AlertRecord]:
        return await self._store.recent(limit)

    async def firing(self, rule: str) -> list[str]:
        """The keys of ``rule`` firing now, on any replica."""
        return await self._store.firing(rule)

    async def send_test(self) -> dict[str, str]:
        """One test notice to every channel, waited for: the outcome of each."""
        notice = Notice("alert", str(self._ids.uuid()), "test", "", "warning",
                        "test alert from wachannel alerts test", self._clock.now())
        outcomes = await asyncio.gather(*(self._send(notice, c) for c in self._channels))
        return {c.name: outcome for c, outcome in zip(self._channels, outcomes, strict=True)}

    async def settled(self) -> None:
        """Wait for the decisions and deliveries started so far (the CLI, tests)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for channel in self._channels:
            await channel.close()

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _worth_clearing(self, rule: str, key: str) -> bool:
        if self._policy.rule(rule).consecutive > 1 or (rule, key) in self._firing:
            return True
        now = self._clock.monotonic()
        if now - self._cleared_at.get((rule, key), -1e9) < self._delivery.clear_write_s:
            return False
        self._cleared_at[(rule, key)] = now
        return True

    async def _decide(self, rule: str, key: str, *, bad: bool, detail: str) -> None:
        spec = self._policy.rule(rule)
        new_id = str(self._ids.uuid())

        def step(state: AlertState) -> Decision:
            return observe(state, spec, bad=bad, detail=detail, at=self._clock.now(),
                           new_id=new_id, cooldown_s=self._policy.cooldown_s)

        try:
            async with self._order.setdefault((rule, key), asyncio.Lock()):
                decision = await self._store.decide(rule, key, step)
        except Exception as exc:  # an alert must never break its caller
            log.warning("alert_state_unavailable", rule=rule, error=type(exc).__name__)
            return
        (self._firing.add if decision.state.firing else self._firing.discard)((rule, key))
        if decision.notice is not None:
            self._announce(decision.notice)

    def _announce(self, notice: Notice) -> None:
        for channel in self._channels:
            self._spawn(self._deliver(notice, channel), f"alert:{channel.name}")

    async def _deliver(self, notice: Notice, channel: AlertChannel) -> None:
        outcome = await self._send(notice, channel)
        try:
            await self._store.record_delivery(notice.alert_id, channel.name, outcome)
        except Exception as exc:
            log.warning("alert_delivery_unrecorded", channel=channel.name,
                        error=type(exc).__name__)

    async def _send(self, notice: Notice, channel: AlertChannel) -> str:
        for attempt in range(self._delivery.attempts):
            try:
                await asyncio.wait_for(channel.send(notice), self._delivery.timeout_s)
            except Exception as exc:
                log.warning("alert_channel_failed", channel=channel.name, rule=notice.rule,
                            attempt=attempt + 1, error=type(exc).__name__)
                if attempt + 1 < self._delivery.attempts:
                    await asyncio.sleep(self._delivery.backoff_s * 2 ** attempt)
                continue
            self._telemetry.alert_sent(notice.rule, channel.name)
            return "sent"
        return "failed"

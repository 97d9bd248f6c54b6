"""The windowed rules, evaluated by the leader's ``alert_evaluation`` job: silent connected
instances, error spike, webhook failure rate, memory growth, Evolution pool exhaustion."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import attrs

from application.alerting.engine import AlertEngine
from application.ports.alerts import ProcessReadings
from application.ports.system import Clock
from application.ports.unit_of_work import UnitOfWork
from domain.alerts import error_spike, memory_growth, silent, webhook_failure_rate
from domain.instance import InstanceState

MEMORY_SAMPLES = 60  # one per pass: an hour at the default minute


@attrs.define
class _Previous:
    at: float
    errors: float
    failed: int
    total: int


class AlertEvaluation:
    """One pass of the windowed rules. Rates are over the time since the previous pass, from
    the counters of the process running the job (the leader)."""

    def __init__(self, uow: Callable[[], UnitOfWork], engine: AlertEngine, clock: Clock,
                 readings: ProcessReadings) -> None:
        self._uow = uow
        self._engine = engine
        self._clock = clock
        self._readings = readings
        self._previous: _Previous | None = None
        self._memory: deque[int] = deque(maxlen=MEMORY_SAMPLES)

    async def evaluate(self) -> None:
        await self._silence()
        await self._process()

    async def _silence(self) -> None:
        policy, now = self._engine.policy, self._clock.now()
        async with self._uow() as uow:
            instances = await uow.instances.all()
        quiet = {str(i.id): i for i in instances if i.state is InstanceState.CONNECTED
                 and silent(i.last_event_at, i.connected_at, now, policy)}
        for key, instance in quiet.items():
            await self._engine.alert("instance_silent", f"instance {key} of "
                                     f"{instance.organization_id} connected but silent for "
                                     f"{policy.silence_s:.0f} s or more", key=key)
        for key in set(await self._engine.firing("instance_silent")) - set(quiet):
            await self._engine.recover("instance_silent", key=key)

    async def _process(self) -> None:
        r, policy, at = self._readings, self._engine.policy, self._clock.monotonic()
        errors, (failed, total) = r.errors(), r.webhooks()
        previous, self._previous = self._previous, _Previous(at, errors, failed, total)
        if previous is not None and at > previous.at:
            per_min = (errors - previous.errors) * 60 / (at - previous.at)
            await self._judge("error_spike", error_spike(int(per_min), policy),
                              f"{per_min:.0f} errors a minute")
            f, t = failed - previous.failed, total - previous.total
            await self._judge("webhook_failure_rate", webhook_failure_rate(f, t, policy),
                              f"{f} of {t} webhook events failed")
        self._memory.append(r.memory_bytes())
        await self._judge("memory_growth", memory_growth(list(self._memory), policy),
                          f"resident memory {self._memory[-1] // 2**20} MiB, up from "
                          f"{min(self._memory) // 2**20} MiB")
        in_use, size = r.pool()
        await self._judge("evolution_pool_exhausted", size > 0 and in_use >= size,
                          f"all {size} Evolution connections in use")

    async def _judge(self, rule: str, bad: bool, detail: str) -> None:
        if bad:
            await self._engine.alert(rule, detail)
        else:  # a few writes a pass, awaited so they stay in order with the alerts
            await self._engine.recover(rule)

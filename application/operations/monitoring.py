"""The operators' dashboard (API.md section 10): an in-process sampler of the telemetry into a
bounded ring buffer, and the document the page refreshes itself from."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import attrs

from application.operations.dead_letters import DeadLetterService
from application.ports.alerts import AlertRecord
from application.ports.inbox import DeadLetterQuery, InboxStatus
from application.ports.system import Clock
from application.ports.telemetry_reader import HistogramReading, TelemetryReader, TelemetryReading
from application.ports.unit_of_work import UnitOfWorkFactory
from application.rollout.service import RolloutService
from domain.access import Actor
from domain.rollout import RADICAL_SOLUTION, STAGES

RECENT = 10  # alerts and dead letters on the page; the full lists have their own routes
SERIES = ("qr_p50_ms", "qr_p95_ms", "webhook_p50_ms", "webhook_p95_ms", "error_rate",
          "errors_per_min", "requests_per_min")


def quantile(q: float, before: HistogramReading, after: HistogramReading) -> float | None:
    """The ``q`` quantile of what was observed between two readings of one histogram.

    Prometheus' rule: find the bucket of the rank in the deltas and interpolate linearly inside
    it; a rank in the overflow bucket answers the highest finite bound. ``None`` when nothing
    was observed in between. A bound missing from ``before`` counts as zero there: a labelled
    histogram has no buckets at all until its first observation.
    """
    earlier = dict(zip(before.bounds, before.counts, strict=True))
    deltas = [a - earlier.get(b, 0.0) for b, a in zip(after.bounds, after.counts, strict=True)]
    total = deltas[-1]
    if total <= 0:
        return None
    rank = q * total
    lower, below = 0.0, 0.0
    for bound, cumulative in zip(after.bounds, deltas, strict=True):
        if cumulative >= rank:
            if math.isinf(bound):
                return lower
            inside = cumulative - below
            return lower + (bound - lower) * ((rank - below) / inside if inside else 1.0)
        lower, below = bound, cumulative
    return lower


@attrs.frozen
class Sample:
    at: float  # seconds since the epoch, for the charts' time axis
    values: dict[str, float | None]
    instances: dict[str, int]
    inbox: dict[str, int]


@attrs.frozen
class Counts:
    instances: dict[str, int]
    inbox: dict[str, int]


async def _now_counts(uow_factory: UnitOfWorkFactory) -> Counts:
    async with uow_factory() as uow:
        # Counted by the store: reading every instance each sample grew with the fleet.
        states = {str(state): n for state, n in (await uow.instances.count_by_state()).items()}
        inbox = await uow.inbox.counts()
    return Counts(dict(sorted(states.items())), {str(s): inbox.get(s, 0) for s in InboxStatus})


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


def _rate(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator > 0 else None


class MonitoringSampler:
    """Every ``sample()`` turns the telemetry's growth since the previous one into one point;
    only the newest ``capacity`` points are kept, so memory stays bounded however long it runs.
    """

    def __init__(self, reader: TelemetryReader, uow: UnitOfWorkFactory, clock: Clock,
                 capacity: int = 360) -> None:
        self._reader = reader
        self._uow = uow
        self._clock = clock
        self._samples: deque[Sample] = deque(maxlen=capacity)
        self._last: tuple[float, TelemetryReading] | None = None

    async def sample(self) -> Sample:
        now, reading = self._clock.monotonic(), self._reader.read()
        values: dict[str, float | None] = dict.fromkeys(SERIES)
        if self._last is not None:
            values = _interval(now - self._last[0], self._last[1], reading)
        self._last = (now, reading)
        counts = await _now_counts(self._uow)
        point = Sample(self._clock.now().timestamp(), values, counts.instances, counts.inbox)
        self._samples.append(point)
        return point

    def latest(self) -> Sample | None:
        return self._samples[-1] if self._samples else None

    def series(self) -> dict[str, list[Any]]:
        """Column per series, aligned on ``t``: the shape a chart library takes as is."""
        columns: dict[str, list[Any]] = {"t": [s.at for s in self._samples]}
        for name in SERIES:
            columns[name] = [s.values[name] for s in self._samples]
        columns["instances"] = [s.instances for s in self._samples]
        columns["inbox_pending"] = [s.inbox[InboxStatus.PENDING] for s in self._samples]
        return columns


def _interval(seconds: float, before: TelemetryReading, after: TelemetryReading
              ) -> dict[str, float | None]:
    requests = after.http_requests - before.http_requests
    per_min = 60.0 / seconds if seconds > 0 else 0.0
    return {
        "qr_p50_ms": _ms(quantile(0.5, before.qr, after.qr)),
        "qr_p95_ms": _ms(quantile(0.95, before.qr, after.qr)),
        "webhook_p50_ms": _ms(quantile(0.5, before.webhook, after.webhook)),
        "webhook_p95_ms": _ms(quantile(0.95, before.webhook, after.webhook)),
        "error_rate": _rate(after.http_server_errors - before.http_server_errors, requests),
        "errors_per_min": round((after.errors - before.errors) * per_min, 3),
        "requests_per_min": round(requests * per_min, 3),
    }


class MonitoringService:
    """What the dashboard shows: the sampled series and the state of things right now."""

    def __init__(self, sampler: MonitoringSampler, rollout: RolloutService,
                 uow: UnitOfWorkFactory, dead_letters: DeadLetterService,
                 recent_alerts: Callable[[int], Awaitable[list[AlertRecord]]]) -> None:
        self._sampler = sampler
        self._rollout = rollout
        self._uow = uow
        self._dead_letters = dead_letters
        self._recent_alerts = recent_alerts

    async def data(self, actor: Actor) -> dict[str, Any]:
        """For an administrator (the route checks): every organization's dead letters."""
        latest = self._sampler.latest() or await self._sampler.sample()
        flags = (await self._rollout.list())["items"]
        flag = next((f for f in flags if f["name"] == RADICAL_SOLUTION), None)
        stage = None
        if flag is not None:
            stage = {"percentage": flag["percentage"], "stages": list(STAGES),
                     "index": STAGES.index(flag["percentage"])
                     if flag["percentage"] in STAGES else None}
        now = await _now_counts(self._uow)
        dead = await self._dead_letters.list(actor, DeadLetterQuery(limit=RECENT))
        # API.md's fields only, as GET /api/admin/alerts lists them (the key stays internal)
        alerts = [attrs.asdict(a, filter=lambda f, _: f.name != "key")
                  for a in await self._recent_alerts(RECENT)]
        return {"series": self._sampler.series(), "instances": now.instances,
                "inbox": now.inbox, "flag": flag, "stage": stage, "sampled_at": latest.at,
                "dead_letters": dead["items"], "alerts": alerts}

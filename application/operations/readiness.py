"""Readiness (API.md section 10) in the IETF health-check format: is this process fit to take
traffic, and is anyone processing what it takes in?"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from application.errors import ApplicationError
from application.ports.evolution import EvolutionGateway
from application.ports.operations import WorkerHeartbeats
from application.ports.system import Clock
from application.ports.unit_of_work import UnitOfWorkFactory
from application.presenters import rfc3339
from domain.rollout import RADICAL_SOLUTION

# A worker silent for this many stale windows is gone, not late: it is no longer listed.
_FORGET_AFTER_WINDOWS = 20


class ReadinessService:
    """The store and Evolution, each with its response time, and every worker's heartbeat.

    ``worker_required``: the embedded default runs its worker in this process, so a stale one
    makes the process unready (503); with Postgres the workers run beside ``serve``, whose
    intake stays durable without them, so a stale heartbeat only warns.
    """

    def __init__(self, uow: UnitOfWorkFactory, evolution: EvolutionGateway, clock: Clock,
                 heartbeats: WorkerHeartbeats, stale_after_s: float = 15.0,
                 worker_required: bool = False, store_name: str = "postgres") -> None:
        self._uow = uow
        self._evolution = evolution
        self._clock = clock
        self._heartbeats = heartbeats
        self._stale = timedelta(seconds=stale_after_s)
        self._worker_required = worker_required
        self._store_name = store_name

    async def check(self) -> dict[str, Any]:
        """Every check as a list of results; ``fail`` overall when a required check fails,
        ``warn`` when any other result is not ``pass``."""
        store = await self._timed(self._store, component=self._store_name)
        evolution = await self._timed(self._evolution.check, component="evolution")
        workers = await self._workers()
        required = [store, evolution] + (workers if self._worker_required else [])
        everything = [store, evolution, *workers]
        if any(c["status"] == "fail" for c in required):
            status = "fail"
        elif any(c["status"] != "pass" for c in everything):
            status = "warn"
        else:
            status = "pass"
        return {"status": status, "checks": {"postgres:responseTime": [store],
                                             "evolution:responseTime": [evolution],
                                             "worker:heartbeat": workers}}

    async def _store(self) -> None:
        async with self._uow() as uow:
            await uow.flags.get(RADICAL_SOLUTION)

    async def _timed(self, probe: Callable[[], Awaitable[None]], component: str
                     ) -> dict[str, Any]:
        started = self._clock.monotonic()
        output = None
        try:
            await probe()
        except ApplicationError as exc:
            output = type(exc).__name__  # the kind only: a detail may name hosts
        result: dict[str, Any] = {
            "componentId": component, "status": "fail" if output else "pass",
            "observedValue": round((self._clock.monotonic() - started) * 1000, 2),
            "observedUnit": "ms", "time": rfc3339(self._clock.now())}
        return result | ({"output": output} if output else {})

    async def _workers(self) -> list[dict[str, Any]]:
        now = self._clock.now()
        try:
            beats = await self._heartbeats.since(now - self._stale * _FORGET_AFTER_WINDOWS)
        except ApplicationError as exc:
            return [_no_worker(now, type(exc).__name__)]
        if not beats:
            return [_no_worker(now, "no worker heartbeat")]
        return [_beat(b.worker_id, b.beat_at, now, self._stale) for b in beats]


def _beat(worker_id: str, at: datetime, now: datetime, stale: timedelta) -> dict[str, Any]:
    age = max(0.0, (now - at).total_seconds())
    result: dict[str, Any] = {"componentId": worker_id,
                              "status": "pass" if now - at < stale else "fail",
                              "observedValue": round(age, 2), "observedUnit": "s",
                              "time": rfc3339(at)}
    if result["status"] == "fail":
        result["output"] = f"no heartbeat for {age:.0f} s"
    return result


def _no_worker(now: datetime, output: str) -> dict[str, Any]:
    return {"status": "fail", "observedValue": None, "observedUnit": "s",
            "time": rfc3339(now), "output": output}

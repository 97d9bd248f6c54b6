"""Readiness (API.md section 10): is this process fit to take traffic?"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from application.errors import ApplicationError
from application.ports.evolution import EvolutionGateway
from application.ports.system import Clock
from application.ports.unit_of_work import UnitOfWorkFactory
from domain.rollout import RADICAL_SOLUTION


class ReadinessService:
    """Storage and Evolution, each with its latency, and the in-process worker's heartbeat."""

    def __init__(self, uow: UnitOfWorkFactory, evolution: EvolutionGateway, clock: Clock,
                 stale_after_s: float = 15.0) -> None:
        self._uow = uow
        self._evolution = evolution
        self._clock = clock
        self._stale_after_s = stale_after_s
        self._last_beat: float | None = None

    def beat(self) -> None:
        """The worker loop's sign of life."""
        self._last_beat = self._clock.monotonic()

    async def check(self) -> dict[str, Any]:
        """Each check with its status; ``fail`` overall when a required one fails."""
        checks = {"storage": await self._timed(self._storage),
                  "evolution": await self._timed(self._evolution.check),
                  "worker": self._worker()}
        failed = any(c["status"] == "fail" and c.get("required", True) for c in checks.values())
        return {"status": "fail" if failed else "pass", "checks": checks}

    async def _storage(self) -> None:
        async with self._uow() as uow:
            await uow.flags.get(RADICAL_SOLUTION)

    async def _timed(self, probe: Callable[[], Awaitable[None]]) -> dict[str, Any]:
        started = self._clock.monotonic()
        detail = None
        try:
            await probe()
        except ApplicationError as exc:
            detail = type(exc).__name__
        result: dict[str, Any] = {
            "status": "fail" if detail else "pass",
            "latency_ms": round((self._clock.monotonic() - started) * 1000, 2)}
        return result | ({"detail": detail} if detail else {})

    def _worker(self) -> dict[str, Any]:
        if self._last_beat is None:
            # Not required: with a database the worker may run as `wachannel worker` elsewhere.
            return {"status": "warn", "required": False,
                    "detail": "no worker loop in this process"}
        age = self._clock.monotonic() - self._last_beat
        return {"status": "pass" if age < self._stale_after_s else "fail",
                "last_beat_s_ago": round(age, 2)}

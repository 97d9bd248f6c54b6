"""A clock that tests move by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from application.ports.system import Clock

T0 = datetime(2026, 1, 5, 12, 0, 0, tzinfo=UTC)


class ManualClock(Clock):
    """Time stands still until the test calls ``advance`` (both clocks move together) or
    ``set`` (a wall-clock jump, like an NTP step: ``monotonic`` does not move).

    Shortcuts: nothing waits on this clock. Code that sleeps or uses ``asyncio.timeout`` still
    waits in real loop time; only the values read through the port are manual.
    """

    def __init__(self, start: datetime = T0, monotonic_start: float = 1_000.0) -> None:
        self._now = start
        self._monotonic = monotonic_start

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._monotonic

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)
        self._monotonic += seconds

    def set(self, now: datetime) -> None:
        self._now = now

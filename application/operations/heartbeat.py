"""A worker's sign of life, as every replica sees it."""

from __future__ import annotations

from datetime import datetime

from application.ports.operations import WorkerHeartbeats
from application.ports.system import Clock


class WorkerHeartbeat:
    """The worker loop marks each cycle with ``beat``; ``publish`` stores the last mark.

    What is published is the time of the loop's last cycle, not the time of publishing: a
    loop that hangs while the publisher still runs goes stale all the same.
    """

    def __init__(self, heartbeats: WorkerHeartbeats, clock: Clock, worker_id: str) -> None:
        self._heartbeats = heartbeats
        self._clock = clock
        self.worker_id = worker_id
        self._last: datetime | None = None

    def beat(self) -> None:
        self._last = self._clock.now()

    async def publish(self) -> bool:
        """Store the last cycle's time; ``False`` when the loop has not cycled yet. Raises
        ``StorageUnavailable``."""
        if self._last is None:
            return False
        await self._heartbeats.beat(self.worker_id, self._last)
        return True

"""What the operations area needs from the store beyond a unit of work: the workers' heartbeats,
one leader among them, a record of each periodic job's runs, and the audit retention purge."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime

import attrs


@attrs.frozen
class Heartbeat:
    worker_id: str
    beat_at: datetime


@attrs.frozen
class JobRun:
    job: str
    worker_id: str
    started_at: datetime
    finished_at: datetime | None
    outcome: str | None


class WorkerHeartbeats(ABC):
    """Every worker's last sign of life, readable by every replica."""

    @abstractmethod
    async def beat(self, worker_id: str, at: datetime) -> None:
        """Record that ``worker_id`` was alive at ``at``. Idempotent; raises
        ``StorageUnavailable``."""

    @abstractmethod
    async def since(self, not_before: datetime) -> list[Heartbeat]:
        """The workers that beat at or after ``not_before``, newest first."""

    @abstractmethod
    async def forget(self, before: datetime) -> int:
        """Delete the heartbeats older than ``before`` (workers long gone); return how many."""


class LeaderLock(ABC):
    """One holder among all workers; it is released when its holder dies."""

    @abstractmethod
    async def hold(self) -> bool:
        """Take the lock if it is free, or confirm it is still ours; ``False`` when another
        worker holds it or the store cannot be reached. Safe to call again and again."""

    @abstractmethod
    async def release(self) -> None:
        """Give the lock up (and the connection that holds it). Idempotent."""


class JobLedger(ABC):
    """Each periodic job's runs, so that two workers never run one job at once."""

    @abstractmethod
    async def start(self, job: str, worker_id: str) -> int | None:
        """Begin a run of ``job`` and return its id, or ``None`` while another run of it is
        under way anywhere. A run whose worker died no longer counts as under way."""

    @abstractmethod
    async def finish(self, run_id: int, outcome: str) -> None:
        """End the run with ``outcome`` (``ok`` or an error's name). Idempotent."""

    @abstractmethod
    async def runs(self, job: str | None = None) -> list[JobRun]:
        """Recorded runs, oldest first (all jobs when ``job`` is None)."""

    @abstractmethod
    async def forget(self, before: datetime) -> int:
        """Delete the finished runs that started before ``before``; return how many. A run
        under way is kept."""


class AuditRetention(ABC):
    @abstractmethod
    async def purge(self, older_than: datetime, retention_days: int) -> int:
        """Delete audit events older than ``older_than``; return how many. Nothing younger
        than ``retention_days`` is ever deleted (the store refuses, ``StorageFailure``)."""

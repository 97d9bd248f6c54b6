"""The operations store of the embedded default: one process, so one worker and one leader."""

from __future__ import annotations

from datetime import datetime

from application.ports.operations import (
    AuditRetention,
    Heartbeat,
    JobLedger,
    JobRun,
    LeaderLock,
    WorkerHeartbeats,
)
from application.ports.system import Clock


class InMemoryWorkerHeartbeats(WorkerHeartbeats):
    def __init__(self) -> None:
        self._beats: dict[str, datetime] = {}

    async def beat(self, worker_id: str, at: datetime) -> None:
        self._beats[worker_id] = max(at, self._beats.get(worker_id, at))

    async def since(self, not_before: datetime) -> list[Heartbeat]:
        beats = [Heartbeat(w, at) for w, at in self._beats.items() if at >= not_before]
        return sorted(beats, key=lambda b: b.beat_at, reverse=True)

    async def forget(self, before: datetime) -> int:
        gone = [w for w, at in self._beats.items() if at < before]
        for worker_id in gone:
            del self._beats[worker_id]
        return len(gone)


class InMemoryLeaderLock(LeaderLock):
    """The only worker of the process is always the leader."""

    async def hold(self) -> bool:
        return True

    async def release(self) -> None:
        return None


class InMemoryJobLedger(JobLedger):
    def __init__(self, clock: Clock, keep: int = 1000) -> None:
        self._clock = clock
        self._keep = keep
        self._runs: dict[int, JobRun] = {}
        self._running: dict[str, int] = {}
        self._next = 1

    async def start(self, job: str, worker_id: str) -> int | None:
        if job in self._running:
            return None
        run_id, self._next = self._next, self._next + 1
        self._runs[run_id] = JobRun(job, worker_id, self._clock.now(), None, None)
        self._running[job] = run_id
        while len(self._runs) > self._keep:  # a record, not a log: the oldest runs go
            del self._runs[next(iter(self._runs))]
        return run_id

    async def finish(self, run_id: int, outcome: str) -> None:
        run = self._runs.get(run_id)
        if run is None or run.finished_at is not None:
            return
        self._runs[run_id] = JobRun(run.job, run.worker_id, run.started_at, self._clock.now(),
                                    outcome)
        if self._running.get(run.job) == run_id:
            del self._running[run.job]

    async def runs(self, job: str | None = None) -> list[JobRun]:
        return [r for r in self._runs.values() if job is None or r.job == job]

    async def forget(self, before: datetime) -> int:
        gone = [i for i, r in self._runs.items()
                if r.finished_at is not None and r.started_at < before]
        for run_id in gone:
            del self._runs[run_id]
        return len(gone)


class InMemoryAuditRetention(AuditRetention):
    """Purges nothing: the in-memory store never outlives the shortest retention (2557 days)."""

    async def purge(self, older_than: datetime, retention_days: int) -> int:
        return 0

"""Periodic jobs, run by one leader among the workers.

Every worker runs ``PeriodicJobs.run``; the one holding the leader lock runs the jobs that
are due. Each run is also recorded in the job ledger, which refuses a second run of a job while
one is under way anywhere: if a leader that lost its lock is still finishing a run, the new
leader skips that job until it ends.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

import attrs
import structlog

from application.errors import ApplicationError
from application.ports.operations import JobLedger, LeaderLock
from application.ports.system import Clock
from application.ports.telemetry import Telemetry

log = structlog.get_logger(__name__)


@attrs.frozen
class PeriodicJob:
    """``run`` does one pass of the job; it may raise ``ApplicationError``."""

    name: str
    interval_s: float
    run: Callable[[], Awaitable[object]]


class PeriodicJobs:
    def __init__(self, jobs: Sequence[PeriodicJob], leader: LeaderLock, ledger: JobLedger,
                 clock: Clock, telemetry: Telemetry, worker_id: str,
                 tick_s: float = 1.0) -> None:
        self._jobs = list(jobs)
        self._leader = leader
        self._ledger = ledger
        self._clock = clock
        self._telemetry = telemetry
        self._worker_id = worker_id
        self._tick_s = tick_s
        self._next_at: dict[str, float] = {}
        self.leading = False

    @property
    def jobs(self) -> list[PeriodicJob]:
        return list(self._jobs)

    async def run(self) -> None:
        """Run until cancelled; the lock is given up on the way out."""
        try:
            while True:
                await self.tick()
                await asyncio.sleep(self._tick_s)
        finally:
            await self._leader.release()

    async def tick(self) -> list[str]:
        """Run every job that is due, if this worker leads; return the names of those run."""
        leading = await self._leader.hold()
        if leading != self.leading:
            log.info("leader_acquired" if leading else "leader_lost", worker=self._worker_id)
            # A new leader starts every job at once: nobody knows when the last one ran them.
            self._next_at.clear()
            self.leading = leading
        if not leading:
            return []
        ran = []
        for job in self._jobs:
            now = self._clock.monotonic()
            if self._next_at.get(job.name, now) > now:
                continue
            if await self._run_one(job):
                ran.append(job.name)
                self._next_at[job.name] = self._clock.monotonic() + job.interval_s
        return ran

    async def _run_one(self, job: PeriodicJob) -> bool:
        try:
            run_id = await self._ledger.start(job.name, self._worker_id)
        except ApplicationError as exc:
            log.warning("job_not_started", job=job.name, error=type(exc).__name__)
            return False
        if run_id is None:
            return False  # another run of it is under way elsewhere
        outcome = "interrupted"  # until the run says otherwise: cancelled, or a bug
        try:
            await job.run()
            outcome = "ok"
        except ApplicationError as exc:
            outcome = type(exc).__name__
            log.warning("job_failed", job=job.name, error=outcome)
        finally:
            try:
                await self._ledger.finish(run_id, outcome)
            except ApplicationError as exc:
                log.warning("job_not_recorded", job=job.name, error=type(exc).__name__)
            self._telemetry.job_finished(job.name, outcome, self._clock.now().timestamp())
        return True

"""The operations store on Postgres: heartbeats, the leader's advisory lock, job runs and the
audit retention purge.

The leader lock and the job locks are session advisory locks on one connection of their own,
outside the pool: when the worker dies its connection closes and the server frees every lock
it held, which is what lets another worker take over.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
import structlog

from adapters.postgres.audit_log import purge_audit
from adapters.postgres.db import TRANSIENT_ERRORS, translated
from application.ports.operations import (
    AuditRetention,
    Heartbeat,
    JobLedger,
    JobRun,
    LeaderLock,
    WorkerHeartbeats,
)

log = structlog.get_logger(__name__)
LEADER_KEY = "wachannel.leader"
BEAT = """
INSERT INTO worker_heartbeats (worker_id, beat_at) VALUES ($1, $2)
ON CONFLICT (worker_id) DO UPDATE SET beat_at = greatest(worker_heartbeats.beat_at, $2)"""
SINCE = ("SELECT worker_id, beat_at FROM worker_heartbeats WHERE beat_at >= $1 "
         "ORDER BY beat_at DESC LIMIT 100")
FORGET_BEATS = "DELETE FROM worker_heartbeats WHERE beat_at < $1"
FORGET_RUNS = "DELETE FROM job_runs WHERE finished_at IS NOT NULL AND started_at < $1"
TRY_LOCK = "SELECT pg_try_advisory_lock(hashtext($1))"
UNLOCK = "SELECT pg_advisory_unlock(hashtext($1))"
START_RUN = "INSERT INTO job_runs (job, worker_id) VALUES ($1, $2) RETURNING id"
FINISH_RUN = """
UPDATE job_runs SET finished_at = clock_timestamp(), outcome = $2
WHERE id = $1 AND finished_at IS NULL RETURNING job"""
RUNS = """
SELECT job, worker_id, started_at, finished_at, outcome FROM job_runs
WHERE $1::text IS NULL OR job = $1 ORDER BY started_at, id"""


class AsyncpgWorkerHeartbeats(WorkerHeartbeats):
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def beat(self, worker_id: str, at: datetime) -> None:
        with translated():
            await self._pool.execute(BEAT, worker_id, at)

    async def since(self, not_before: datetime) -> list[Heartbeat]:
        with translated():
            rows = await self._pool.fetch(SINCE, not_before)
        return [Heartbeat(row["worker_id"], row["beat_at"]) for row in rows]

    async def forget(self, before: datetime) -> int:
        with translated():
            status = await self._pool.execute(FORGET_BEATS, before)
        return int(status.split()[-1])


class _LockSession:
    """One connection kept for advisory locks; a broken one is dropped with its locks."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._conn: asyncpg.Connection | None = None

    async def value(self, sql: str, *args: Any) -> Any:
        if self._conn is None or self._conn.is_closed():
            self._conn = await asyncpg.connect(self._dsn)
        try:
            return await self._conn.fetchval(sql, *args)
        except TRANSIENT_ERRORS:
            await self.close()
            raise

    async def close(self, graceful: bool = False) -> None:
        """Drop the session; ``graceful`` first gives its locks back, so that another worker
        can take them at once instead of when the server notices the closed socket."""
        conn, self._conn = self._conn, None
        if conn is None or conn.is_closed():
            return
        if graceful:
            try:
                await conn.execute("SELECT pg_advisory_unlock_all()", timeout=2)
                await conn.close(timeout=2)
                return
            except (*TRANSIENT_ERRORS, asyncpg.PostgresError):
                pass
        conn.terminate()


class AsyncpgLeaderLock(LeaderLock):
    def __init__(self, dsn: str) -> None:
        self._session = _LockSession(dsn)
        self._held = False

    async def hold(self) -> bool:
        try:
            if self._held:
                # Still ours as long as the session that took it answers.
                await self._session.value("SELECT 1")
            else:
                self._held = bool(await self._session.value(TRY_LOCK, LEADER_KEY))
        except (*TRANSIENT_ERRORS, asyncpg.PostgresError) as exc:
            log.warning("leader_lock_unreachable", error=type(exc).__name__)
            self._held = False
            await self._session.close()  # whatever it held is released with it
        return self._held

    async def release(self) -> None:
        self._held = False
        await self._session.close(graceful=True)


class AsyncpgJobLedger(JobLedger):
    """A run holds the job's advisory lock from start to finish, on a session of its own."""

    def __init__(self, dsn: str, pool: asyncpg.Pool) -> None:
        self._session = _LockSession(dsn)
        self._pool = pool
        self._running: dict[int, str] = {}  # run id -> job, for the unlock

    async def start(self, job: str, worker_id: str) -> int | None:
        with translated():
            if not await self._session.value(TRY_LOCK, _job_key(job)):
                return None
            try:
                run_id: int = await self._pool.fetchval(START_RUN, job, worker_id)
            except BaseException:
                await self._unlock(job)
                raise
        self._running[run_id] = job
        return run_id

    async def finish(self, run_id: int, outcome: str) -> None:
        job = self._running.pop(run_id, None)
        try:
            with translated():
                await self._pool.fetchval(FINISH_RUN, run_id, outcome)
        finally:
            # Unlocked even when the record could not be written: a lock left behind would
            # keep the job from ever running again while this worker lives.
            if job is not None:
                await self._unlock(job)

    async def _unlock(self, job: str) -> None:
        try:
            await self._session.value(UNLOCK, _job_key(job))
        except (*TRANSIENT_ERRORS, asyncpg.PostgresError):
            await self._session.close()  # the server frees the lock with the session

    async def runs(self, job: str | None = None) -> list[JobRun]:
        with translated():
            rows = await self._pool.fetch(RUNS, job)
        return [JobRun(r["job"], r["worker_id"], r["started_at"], r["finished_at"],
                       r["outcome"]) for r in rows]

    async def forget(self, before: datetime) -> int:
        with translated():
            status = await self._pool.execute(FORGET_RUNS, before)
        return int(status.split()[-1])

    async def close(self) -> None:
        await self._session.close(graceful=True)


class AsyncpgAuditRetention(AuditRetention):
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def purge(self, older_than: datetime, retention_days: int) -> int:
        with translated():
            async with self._pool.acquire() as conn:
                return await purge_audit(conn, older_than, retention_days)


def _job_key(job: str) -> str:
    return f"wachannel.job.{job}"

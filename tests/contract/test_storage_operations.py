"""The operations store: heartbeats and job runs on both stores; the leader lock on Postgres,
where two workers are two sessions and a dead one's locks go with its session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from adapters.memory.operations import InMemoryJobLedger, InMemoryWorkerHeartbeats
from adapters.postgres import create_pool
from adapters.postgres.operations import (
    AsyncpgJobLedger,
    AsyncpgLeaderLock,
    AsyncpgWorkerHeartbeats,
)
from adapters.postgres.pool import close_pool
from tests.fakes.clock import T0, ManualClock


@pytest.fixture(params=["memory", pytest.param("postgres", marks=pytest.mark.integration)])
def store_dsn(request: pytest.FixtureRequest) -> str | None:
    return None if request.param == "memory" else str(request.getfixturevalue("postgres_dsn"))


@pytest.fixture
async def stores(store_dsn: str | None) -> AsyncIterator[dict[str, Any]]:
    """Heartbeats and two ledgers (two workers) over one store."""
    if store_dsn is None:
        ledger = InMemoryJobLedger(ManualClock())
        yield {"beats": InMemoryWorkerHeartbeats(), "ledgers": (ledger, ledger)}
        return
    dsn = store_dsn
    pool = await create_pool(dsn, 1, 4)
    ledgers = (AsyncpgJobLedger(dsn, pool), AsyncpgJobLedger(dsn, pool))
    try:
        yield {"beats": AsyncpgWorkerHeartbeats(pool), "ledgers": ledgers, "dsn": dsn}
    finally:
        for ledger in ledgers:
            await ledger.close()
        await close_pool(pool)


async def test_heartbeats_are_listed_newest_first_from_a_time_on(stores) -> None:
    beats = stores["beats"]
    await beats.beat("worker-a", T0)
    await beats.beat("worker-b", T0 + timedelta(seconds=5))
    await beats.beat("worker-a", T0 + timedelta(seconds=9))
    await beats.beat("worker-a", T0 + timedelta(seconds=1))  # late write: never moves back
    listed = await beats.since(T0 + timedelta(seconds=2))
    assert [(b.worker_id, b.beat_at) for b in listed] == [
        ("worker-a", T0 + timedelta(seconds=9)), ("worker-b", T0 + timedelta(seconds=5))]
    assert [b.worker_id for b in await beats.since(T0 + timedelta(seconds=6))] == ["worker-a"]


async def test_a_job_under_way_on_one_worker_cannot_start_on_another_until_it_ends(
        stores) -> None:
    mine, theirs = stores["ledgers"]
    run = await mine.start("health_sweep", "worker-a")
    assert run is not None
    assert await theirs.start("health_sweep", "worker-b") is None
    other_job = await theirs.start("audit_retention", "worker-b")  # another job is free
    assert other_job is not None
    await mine.finish(run, "ok")
    await mine.finish(run, "ok")  # idempotent
    again = await theirs.start("health_sweep", "worker-b")
    assert again is not None
    await theirs.finish(again, "StorageUnavailable")
    await theirs.finish(other_job, "ok")
    runs = await mine.runs("health_sweep")
    assert [(r.worker_id, r.outcome) for r in runs] == [("worker-a", "ok"),
                                                        ("worker-b", "StorageUnavailable")]
    assert all(r.finished_at is not None and r.finished_at >= r.started_at for r in runs)


@pytest.mark.integration
async def test_one_leader_at_a_time_and_the_lock_goes_with_its_session(postgres_dsn) -> None:
    first, second = AsyncpgLeaderLock(postgres_dsn), AsyncpgLeaderLock(postgres_dsn)
    try:
        assert await first.hold() is True
        assert await first.hold() is True  # confirmed, not taken twice
        assert await second.hold() is False
        await first.release()  # as a dead worker's closed connection would
        assert await second.hold() is True
        assert await first.hold() is False
    finally:
        await first.release()
        await second.release()


@pytest.mark.integration
async def test_a_run_whose_worker_stopped_no_longer_blocks_the_job(postgres_dsn) -> None:
    pool = await create_pool(postgres_dsn, 1, 2)
    dead, alive = AsyncpgJobLedger(postgres_dsn, pool), AsyncpgJobLedger(postgres_dsn, pool)
    try:
        assert await dead.start("inbox_retention", "worker-dead") is not None
        assert await alive.start("inbox_retention", "worker-alive") is None
        await dead.close()  # its session ends (so it does when a worker is killed: e2e)
        assert await alive.start("inbox_retention", "worker-alive") is not None
    finally:
        await alive.close()
        await close_pool(pool)


async def test_old_runs_and_heartbeats_are_forgotten_and_a_run_under_way_is_kept(
        stores) -> None:
    beats, (ledger, _) = stores["beats"], stores["ledgers"]
    await beats.beat("gone", T0 - timedelta(days=2))
    await beats.beat("here", T0)
    done = await ledger.start("audit_retention", "worker-a")
    await ledger.finish(done, "ok")
    under_way = await ledger.start("health_sweep", "worker-a")
    future = T0 + timedelta(days=3650)  # after every run recorded so far
    assert await ledger.forget(future) == 1
    assert [r.job for r in await ledger.runs()] == ["health_sweep"]
    assert await beats.forget(T0 - timedelta(days=1)) == 1
    assert [b.worker_id for b in await beats.since(T0 - timedelta(days=30))] == ["here"]
    await ledger.finish(under_way, "ok")

"""The operations use cases on the in-memory store with a manual clock: the leader's periodic
jobs, the health sweep, readiness in the health-check format."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from adapters.memory.operations import (
    InMemoryJobLedger,
    InMemoryLeaderLock,
    InMemoryWorkerHeartbeats,
)
from application.errors import StorageUnavailable
from application.operations.heartbeat import WorkerHeartbeat
from application.operations.housekeeping import StoreGauges
from application.operations.periodic import PeriodicJob, PeriodicJobs
from application.operations.readiness import ReadinessService
from application.ports.operations import LeaderLock
from domain.instance import InstanceState, LifecycleSignal
from tests.fakes.clock import ManualClock
from tests.fakes.telemetry import RecordingTelemetry
from tests.storage_builders import an_event
from tests.unit.application.harness import Harness


class FollowerLock(LeaderLock):
    """Another worker holds the lock until the test says it died."""

    def __init__(self) -> None:
        self.free = False

    async def hold(self) -> bool:
        return self.free

    async def release(self) -> None:
        return None


class JobTelemetry(RecordingTelemetry):
    def __init__(self) -> None:
        super().__init__()
        self.jobs: list[tuple[str, str]] = []

    def job_finished(self, job: str, outcome: str, at_epoch_s: float) -> None:
        self.jobs.append((job, outcome))


def _jobs(clock: ManualClock, lock: LeaderLock, ledger: InMemoryJobLedger,
          telemetry: JobTelemetry, calls: list[str], fail: bool = False) -> PeriodicJobs:
    async def sweep() -> None:
        calls.append("sweep")

    async def purge() -> None:
        calls.append("purge")
        if fail:
            raise StorageUnavailable("database unavailable")

    return PeriodicJobs([PeriodicJob("sweep", 10, sweep), PeriodicJob("purge", 60, purge)],
                        lock, ledger, clock, telemetry, "worker-a")


async def test_the_leader_runs_each_job_when_due_and_records_its_outcome() -> None:
    clock, telemetry, calls = ManualClock(), JobTelemetry(), []
    ledger = InMemoryJobLedger(clock)
    jobs = _jobs(clock, InMemoryLeaderLock(), ledger, telemetry, calls, fail=True)
    assert await jobs.tick() == ["sweep", "purge"]
    assert await jobs.tick() == []
    clock.advance(10)
    assert await jobs.tick() == ["sweep"]
    clock.advance(50)
    assert await jobs.tick() == ["sweep", "purge"]
    assert telemetry.jobs == [("sweep", "ok"), ("purge", "StorageUnavailable"), ("sweep", "ok"),
                              ("sweep", "ok"), ("purge", "StorageUnavailable")]
    assert [(r.job, r.outcome) for r in await ledger.runs("purge")] == [
        ("purge", "StorageUnavailable")] * 2


async def test_a_follower_runs_nothing_until_the_leader_is_gone() -> None:
    clock, telemetry, calls = ManualClock(), JobTelemetry(), []
    lock = FollowerLock()
    jobs = _jobs(clock, lock, InMemoryJobLedger(clock), telemetry, calls)
    assert await jobs.tick() == []
    assert (calls, jobs.leading) == ([], False)
    lock.free = True
    assert await jobs.tick() == ["sweep", "purge"]
    assert jobs.leading is True


async def test_a_job_still_running_elsewhere_is_skipped_not_run_twice() -> None:
    clock, telemetry, calls = ManualClock(), JobTelemetry(), []
    ledger = InMemoryJobLedger(clock)
    elsewhere = await ledger.start("sweep", "worker-old")
    jobs = _jobs(clock, InMemoryLeaderLock(), ledger, telemetry, calls)
    assert await jobs.tick() == ["purge"]
    assert calls == ["purge"]
    assert elsewhere is not None
    await ledger.finish(elsewhere, "ok")
    assert await jobs.tick() == ["sweep"]  # due at once: it never ran here


async def test_the_health_sweep_moves_what_evolution_closed_audits_and_alerts_once(
        app: Harness) -> None:
    quiet, dropped = await app.new_instance(), await app.new_instance()
    for instance in (quiet, dropped):
        # Connected on both sides, as after a scan and its webhooks.
        app.evolution.sim.instances[instance.evolution_name].state = "open"
        async with app.uow() as uow:
            stored = await uow.instances.get(instance.id, lock=True)
            assert stored is not None
            stored.apply(LifecycleSignal(InstanceState.CONNECTED), app.clock.now())
            await uow.instances.save(stored)
            await uow.commit()
    app.evolution.drop_silently(dropped.evolution_name)
    sweep = app.container.health_sweep()

    result = await sweep.sweep()

    assert (result.checked, result.moved, result.unreachable) == (2, 1, 0)
    assert app.instance(dropped.id).state is InstanceState.DISCONNECTED
    assert app.instance(dropped.id).state_reason == "health_sweep"
    assert app.instance(quiet.id).state is InstanceState.CONNECTED
    (lost,) = app.audit_events(action="connection_lost")
    assert lost.details["instance_id"] == str(dropped.id)
    assert lost.actor_type == "system"
    assert app.alerter.names == ["instance_disconnected"]
    again = await sweep.sweep()
    assert (again.checked, again.moved) == (1, 0)
    assert app.alerter.names == ["instance_disconnected"]


async def test_readiness_reports_each_worker_and_fails_a_stale_one() -> None:
    clock, beats = ManualClock(), InMemoryWorkerHeartbeats()
    heartbeat = WorkerHeartbeat(beats, clock, "worker-a")
    assert await heartbeat.publish() is False  # the loop has not cycled yet
    heartbeat.beat()
    assert await heartbeat.publish() is True
    readiness = ReadinessService(_NoStore(), _NoEvolution(), clock, beats, stale_after_s=15)
    (fresh,) = (await readiness.check())["checks"]["worker:heartbeat"]
    assert (fresh["componentId"], fresh["status"], fresh["observedValue"]) == (
        "worker-a", "pass", 0)
    clock.advance(15)
    body = await readiness.check()
    (stale,) = body["checks"]["worker:heartbeat"]
    assert (stale["status"], stale["observedValue"], body["status"]) == ("fail", 15, "warn")
    clock.advance(timedelta(days=1).total_seconds())
    (gone,) = (await readiness.check())["checks"]["worker:heartbeat"]
    assert (gone["status"], gone["output"]) == ("fail", "no worker heartbeat")


async def test_a_required_worker_that_is_stale_makes_readiness_fail() -> None:
    clock, beats = ManualClock(), InMemoryWorkerHeartbeats()
    await beats.beat("in-process", clock.now())
    clock.advance(20)
    readiness = ReadinessService(_NoStore(), _NoEvolution(), clock, beats, stale_after_s=15,
                                 worker_required=True)
    assert (await readiness.check())["status"] == "fail"


class _NoStore:
    """A store whose probe always answers at once."""

    def __call__(self) -> _NoStore:
        return self

    async def __aenter__(self) -> _NoStore:
        self.flags = self
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def get(self, name: str) -> None:
        return None


class _NoEvolution:
    async def check(self) -> None:
        return None


class GaugeTelemetry(RecordingTelemetry):
    def __init__(self) -> None:
        super().__init__()
        self.instances: dict[str, int] = {}
        self.inbox: tuple[int, float, int] | None = None

    def instances_counted(self, by_state: Mapping[str, int]) -> None:
        self.instances = dict(by_state)

    def inbox_measured(self, pending: int, oldest_pending_age_s: float, dead: int) -> None:
        self.inbox = (pending, oldest_pending_age_s, dead)


async def test_store_gauges_report_every_state_and_the_inbox_backlog(app: Harness) -> None:
    await app.new_instance()
    await app.new_instance()
    event = an_event("clinic-42", at=app.clock.now() - timedelta(seconds=90))
    await app.container.inbox_writer().admit(event)
    telemetry = GaugeTelemetry()
    await StoreGauges(app.uow, app.clock, telemetry).refresh()
    assert telemetry.instances == {**{str(s): 0 for s in InstanceState}, "awaiting_qr": 2}
    assert telemetry.inbox == (1, 90.0, 0)

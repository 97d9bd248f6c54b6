"""The windowed rules' pass over the in-memory store, with readings the test sets."""

from __future__ import annotations

from adapters.memory import InMemoryNotifier, InMemoryStore, InMemoryUnitOfWork
from adapters.memory.alert_store import InMemoryAlertStore
from application.alerting.engine import AlertEngine, DeliveryPolicy
from application.alerting.evaluation import AlertEvaluation
from application.ports.alerts import ProcessReadings
from domain.alerts import AlertPolicy
from domain.instance import InstanceState
from tests.fakes.clock import ManualClock
from tests.fakes.ids import SequentialIds
from tests.fakes.telemetry import RecordingTelemetry
from tests.storage_builders import an_instance
from tests.unit.application.test_alert_engine_use_case import KeptChannel


class SetReadings(ProcessReadings):
    """Readings the test moves by hand."""

    def __init__(self) -> None:
        self.error_count = 0.0
        self.failed_total = (0, 0)
        self.rss = 100 * 2**20
        self.in_use_size = (0, 10)

    def errors(self) -> float:
        return self.error_count

    def webhooks(self) -> tuple[int, int]:
        return self.failed_total

    def memory_bytes(self) -> int:
        return self.rss

    def pool(self) -> tuple[int, int]:
        return self.in_use_size


def _world() -> tuple[AlertEvaluation, AlertEngine, KeptChannel, ManualClock, SetReadings,
                      InMemoryStore]:
    clock, log, readings, store = ManualClock(), KeptChannel("log"), SetReadings(), InMemoryStore()
    engine = AlertEngine(InMemoryAlertStore(), [log], clock, SequentialIds(),
                         RecordingTelemetry(), AlertPolicy(silence_s=3600),
                         DeliveryPolicy(attempts=1, backoff_s=0, clear_write_s=0))
    evaluation = AlertEvaluation(lambda: InMemoryUnitOfWork(store, InMemoryNotifier()), engine,
                                 clock, readings)
    return evaluation, engine, log, clock, readings, store


async def test_a_connected_instance_silent_for_the_window_alerts_once_and_recovers() -> None:
    evaluation, engine, log, clock, _, store = _world()
    instance = an_instance(state=InstanceState.CONNECTED, connected_at=clock.now())
    store.instances[instance.id] = instance
    await evaluation.evaluate()
    clock.advance(3600)
    await evaluation.evaluate()
    clock.advance(60)
    await evaluation.evaluate()
    instance.last_event_at = clock.now()
    await evaluation.evaluate()
    await evaluation.evaluate()
    await engine.settled()
    silence = [(n.kind, n.key) for n in log.sent if n.rule == "instance_silent"]
    assert silence == [("alert", str(instance.id)), ("recovery", str(instance.id))]


async def test_error_spike_failure_rate_memory_and_pool_each_raise_theirs() -> None:
    evaluation, engine, log, clock, readings, _ = _world()
    await evaluation.evaluate()
    clock.advance(60)
    readings.error_count = 80  # 80 a minute
    readings.failed_total = (10, 30)
    readings.rss = 160 * 2**20
    readings.in_use_size = (10, 10)
    await evaluation.evaluate()
    await engine.settled()
    assert sorted(n.rule for n in log.sent) == [
        "error_spike", "evolution_pool_exhausted", "memory_growth", "webhook_failure_rate"]


async def test_quiet_readings_raise_nothing() -> None:
    evaluation, engine, log, clock, readings, _ = _world()
    for _ in range(3):
        await evaluation.evaluate()
        clock.advance(60)
        readings.error_count += 5
        readings.failed_total = (readings.failed_total[0] + 1, readings.failed_total[1] + 50)
    await engine.settled()
    assert log.sent == []

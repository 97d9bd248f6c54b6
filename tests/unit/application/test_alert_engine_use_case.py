"""The alert engine over the in-memory store, with channels that work, fail, or fail once."""

from __future__ import annotations

import asyncio

from adapters.memory.alert_store import InMemoryAlertStore
from application.alerting.engine import AlertEngine, DeliveryPolicy
from application.alerting.feed import AlertingTelemetry
from application.ports.alerts import AlertChannel
from domain.alerts import AlertPolicy, Notice
from tests.fakes.clock import ManualClock
from tests.fakes.ids import SequentialIds
from tests.fakes.telemetry import RecordingTelemetry


class KeptChannel(AlertChannel):
    """Keeps every notice; fails its first ``failures`` sends, or hangs when ``hang``."""

    def __init__(self, name: str, failures: int = 0, hang: bool = False) -> None:
        self.name = name
        self.failures = failures
        self.hang = hang
        self.sent: list[Notice] = []

    async def send(self, notice: Notice) -> None:
        if self.hang:
            await asyncio.Event().wait()
        if self.failures:
            self.failures -= 1
            raise ConnectionError("refused")
        self.sent.append(notice)


def _engine(*channels: AlertChannel, attempts: int = 3) -> tuple[AlertEngine, ManualClock]:
    clock = ManualClock()
    engine = AlertEngine(InMemoryAlertStore(), channels, clock, SequentialIds(),
                         RecordingTelemetry(), AlertPolicy(cooldown_s=300),
                         DeliveryPolicy(attempts=attempts, backoff_s=0, timeout_s=0.2))
    return engine, clock


async def test_five_qr_failures_reach_every_channel_once_and_one_recovery_follows() -> None:
    slack, sms = KeptChannel("slack"), KeptChannel("sms")
    engine, clock = _engine(slack, sms)
    feed = AlertingTelemetry(RecordingTelemetry(), engine)
    for _ in range(9):
        feed.qr_failed("UpstreamUnavailable")
        clock.advance(1)
    await engine.settled()
    assert [n.kind for n in slack.sent] == ["alert"]
    assert [n.kind for n in sms.sent] == ["alert"]
    feed.qr_generated(0.5)
    feed.qr_generated(0.5)
    await engine.settled()
    assert [n.kind for n in slack.sent] == ["alert", "recovery"]
    [listed] = await engine.recent()
    assert listed.state == "resolved"
    assert listed.channels == {"slack": "sent", "sms": "sent"}


async def test_a_failing_channel_is_retried_and_a_hung_one_blocks_no_other() -> None:
    flaky, dead, hung, good = (KeptChannel("slack", failures=2), KeptChannel("sms", failures=99),
                               KeptChannel("email", hang=True), KeptChannel("log"))
    engine, _ = _engine(flaky, dead, hung, good)
    await engine.alert("webhook_dead_lettered", "event parked")
    await engine.settled()
    assert len(flaky.sent) == 1
    assert len(good.sent) == 1
    assert dead.sent == []
    [listed] = await engine.recent()
    assert listed.channels == {"slack": "sent", "sms": "failed", "email": "failed", "log": "sent"}


async def test_a_slow_evolution_answer_and_a_slow_webhook_each_raise_theirs() -> None:
    log = KeptChannel("log")
    engine, _ = _engine(log)
    feed = AlertingTelemetry(RecordingTelemetry(), engine)
    feed.request_finished("connect", "ok", 0.2)
    feed.request_finished("connect", "ok", 10.5)
    feed.webhook_processed("MESSAGES_UPSERT", "processed", 0.01)
    feed.webhook_processed("MESSAGES_UPSERT", "processed", 6.0)
    await engine.settled()
    assert sorted(n.rule for n in log.sent) == ["api_response_slow", "webhook_processing_slow"]


async def test_the_test_alert_says_which_channel_succeeded() -> None:
    engine, _ = _engine(KeptChannel("slack"), KeptChannel("sms", failures=99), attempts=2)
    assert await engine.send_test() == {"slack": "sent", "sms": "failed"}


async def test_per_instance_alerts_are_kept_apart() -> None:
    log = KeptChannel("log")
    engine, _ = _engine(log)
    await engine.alert("instance_disconnected", "phone unlinked", key="inst-a")
    await engine.alert("instance_disconnected", "phone unlinked", key="inst-b")
    await engine.alert("instance_disconnected", "still unlinked", key="inst-a")
    await engine.recover("instance_disconnected", key="inst-b")
    await engine.settled()
    assert [(n.kind, n.key) for n in log.sent] == [
        ("alert", "inst-a"), ("alert", "inst-b"), ("recovery", "inst-b")]


class FirstCallWaits(InMemoryAlertStore):
    """The first decision is held until the test lets it go, as a slow round trip would be."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self._calls = 0

    async def decide(self, rule, key, step):
        self._calls += 1
        if self._calls == 1:
            await self.gate.wait()
        return await super().decide(rule, key, step)


async def test_observations_reach_the_store_in_the_order_they_were_made() -> None:
    store, log = FirstCallWaits(), KeptChannel("log")
    engine = AlertEngine(store, [log], ManualClock(), SequentialIds(), RecordingTelemetry(),
                         AlertPolicy(), DeliveryPolicy(attempts=1, backoff_s=0))
    engine.observe("api_response_slow", bad=True, detail="slow")
    engine.observe("api_response_slow", bad=False)
    for _ in range(5):
        await asyncio.sleep(0)
    store.gate.set()
    await engine.settled()
    assert [n.kind for n in log.sent] == ["alert", "recovery"]

"""The alert feed stands in for the telemetry of connect, the worker and the transport: it
must pass every measurement on, including ones added to the port after it was written."""

from __future__ import annotations

from adapters.memory.alert_store import InMemoryAlertStore
from application.alerting.engine import AlertEngine, DeliveryPolicy
from application.alerting.feed import AlertingTelemetry
from application.ports.telemetry import Telemetry
from domain.alerts import AlertPolicy
from tests.fakes.clock import ManualClock
from tests.fakes.ids import SequentialIds
from tests.fakes.telemetry import RecordingTelemetry


def test_the_feed_overrides_every_method_of_the_telemetry_port() -> None:
    port = {name for name in dir(Telemetry) if not name.startswith("_")}
    inherited = {name for name in port if getattr(AlertingTelemetry, name) is getattr(Telemetry,
                                                                                      name)}
    assert inherited == set(), f"not passed on by AlertingTelemetry: {sorted(inherited)}"


async def test_measurements_reach_the_inner_telemetry() -> None:
    inner = RecordingTelemetry()
    engine = AlertEngine(InMemoryAlertStore(), [], ManualClock(), SequentialIds(), inner,
                         AlertPolicy(), DeliveryPolicy())
    feed = AlertingTelemetry(inner, engine)
    feed.qr_generated(0.4)
    feed.webhook_processed("QRCODE_UPDATED", "applied", 0.01)
    feed.error("qr_timeout")
    await engine.settled()
    assert inner.qr_seconds == [0.4]
    assert inner.processed == [("QRCODE_UPDATED", "applied", 0.01)]
    assert inner.errors["qr_timeout"] == 1

"""The dashboard's sampler: quantiles from bucket deltas, a bounded ring buffer, and the data
document, over the real Prometheus telemetry and the harness's store."""

from __future__ import annotations

import math

import pytest

from adapters.observability.prometheus_reader import PrometheusTelemetryReader
from adapters.observability.prometheus_telemetry import PrometheusTelemetry
from application.operations.monitoring import MonitoringSampler, MonitoringService, quantile
from application.ports.telemetry_reader import HistogramReading
from tests.unit.application.evolution_bodies import message_upsert
from tests.unit.application.harness import ADMIN, Harness

INF = math.inf


def test_quantile_interpolates_inside_the_bucket_of_the_delta() -> None:
    before = HistogramReading((1.0, 2.0, INF), (100.0, 100.0, 100.0))
    after = HistogramReading((1.0, 2.0, INF), (100.0, 110.0, 110.0))
    # the 100 old observations under 1 s are not in this interval: all 10 new ones are in (1, 2]
    assert quantile(0.5, before, after) == pytest.approx(1.5)
    assert quantile(0.95, before, after) == pytest.approx(1.95)


def test_quantile_is_none_without_new_observations_and_capped_in_the_overflow_bucket() -> None:
    same = HistogramReading((1.0, 2.0, INF), (3.0, 4.0, 5.0))
    assert quantile(0.5, same, same) is None
    overflow = HistogramReading((1.0, 2.0, INF), (3.0, 4.0, 9.0))
    assert quantile(0.95, same, overflow) == 2.0


def _sampler(app: Harness, telemetry: PrometheusTelemetry, capacity: int = 5
             ) -> MonitoringSampler:
    return MonitoringSampler(reader=PrometheusTelemetryReader(telemetry), uow=app.uow,
                             clock=app.clock, capacity=capacity)


async def test_series_come_from_what_was_observed_between_two_samples(app: Harness) -> None:
    telemetry = PrometheusTelemetry()
    sampler = _sampler(app, telemetry)
    telemetry.qr_generated(9.0)  # before the first sample: never charted
    await sampler.sample()
    for seconds in (0.6, 0.7, 0.8, 0.9):
        telemetry.qr_generated(seconds)
    telemetry.webhook_processed("MESSAGES_UPSERT", "done", 0.007)
    for status in ("200", "200", "200", "503"):
        telemetry.http_seconds.labels("/x", "GET", status).observe(0.01)
    telemetry.error("evolution_timeout")
    app.clock.advance(5)
    await sampler.sample()

    series = sampler.series()
    assert len(series["t"]) == 2
    assert series["qr_p50_ms"][0] is None
    assert 500 < series["qr_p50_ms"][1] < 1000
    assert 500 < series["qr_p95_ms"][1] <= 1000
    assert 5 < series["webhook_p50_ms"][1] <= 10
    assert series["error_rate"][1] == pytest.approx(0.25)
    assert series["errors_per_min"][1] == pytest.approx(12.0)  # one error in 5 s


async def test_the_ring_buffer_keeps_only_the_newest_samples(app: Harness) -> None:
    sampler = _sampler(app, PrometheusTelemetry(), capacity=3)
    for _ in range(5):
        await sampler.sample()
        app.clock.advance(5)
    t = sampler.series()["t"]
    assert len(t) == 3
    assert t == sorted(t)
    assert t[-1] - t[0] == 10


async def test_the_data_document_has_instances_by_state_inbox_and_the_flag(
        app: Harness) -> None:
    await app.new_instance()
    await app.new_instance()
    sampler = _sampler(app, PrometheusTelemetry())
    await sampler.sample()
    service = MonitoringService(sampler=sampler, rollout=app.rollout, uow=app.uow,
                                dead_letters=app.container.dead_letters(),
                                recent_alerts=app.container.alert_engine().recent)
    data = await service.data(ADMIN)

    assert data["instances"] == {"awaiting_qr": 2}
    assert set(data["inbox"]) >= {"pending", "processing", "dead"}
    assert data["flag"]["name"] == "radical_solution"
    assert data["flag"]["enabled"] is True
    assert data["series"]["t"]
    assert data["series"]["instances"][-1] == data["instances"]
    assert data["dead_letters"] == []
    assert data["alerts"] == []


async def test_the_data_document_lists_dead_letters_and_alerts(app: Harness) -> None:
    instance = await app.new_instance()
    admitted = await app.webhook(message_upsert(instance.evolution_name, "MSG-1"))
    async with app.uow() as uow:
        await uow.inbox.park(admitted.event_id, "poisoned: no such key")
        await uow.commit()
    await app.container.alert_engine().alert("webhook_dead_lettered", "event parked")
    sampler = _sampler(app, PrometheusTelemetry())
    service = MonitoringService(sampler=sampler, rollout=app.rollout, uow=app.uow,
                                dead_letters=app.container.dead_letters(),
                                recent_alerts=app.container.alert_engine().recent)
    data = await service.data(ADMIN)

    assert data["inbox"]["dead"] == 1
    assert [(d["id"], d["last_error"]) for d in data["dead_letters"]] == [
        (str(admitted.event_id), "poisoned: no such key")]
    assert [(a["rule"], a["state"]) for a in data["alerts"]] == [
        ("webhook_dead_lettered", "firing")]
    assert "key" not in data["alerts"][0]


async def test_with_metrics_disabled_the_series_are_empty_not_an_error(app: Harness) -> None:
    telemetry = PrometheusTelemetry(recording=False)  # METRICS_DISABLED=1
    sampler = _sampler(app, telemetry)
    await sampler.sample()
    telemetry.qr_generated(0.7)  # still recorded: only the request and webhook paths stop
    telemetry.webhook_processed("MESSAGES_UPSERT", "done", 0.007)
    app.clock.advance(5)
    await sampler.sample()
    series = sampler.series()
    assert series["webhook_p50_ms"] == [None, None]
    assert series["error_rate"] == [None, None]
    assert series["qr_p50_ms"][1] is not None

"""The operations series of the Prometheus adapter: bounded labels, values as reported."""

from __future__ import annotations

from prometheus_client import generate_latest

from adapters.observability.prometheus_telemetry import PrometheusTelemetry


def _value(t: PrometheusTelemetry, name: str, **labels: str) -> float | None:
    return t.registry.get_sample_value(name, labels)


def test_one_instance_closing_its_circuit_leaves_the_others_counted_as_open() -> None:
    t = PrometheusTelemetry()
    for name in ("a", "b", "c"):
        t.circuit_changed(f"instance:clinic-{name}", "open")
    t.circuit_changed("instance:clinic-b", "half_open")
    t.circuit_changed("instance:clinic-a", "closed")
    assert _value(t, "wachannel_evolution_instance_circuits_open") == 2
    assert _value(t, "wachannel_evolution_circuit_open") == 0
    t.circuit_changed("evolution", "open")
    assert _value(t, "wachannel_evolution_circuit_open") == 1
    # No instance name ever becomes a label.
    assert b"clinic-" not in generate_latest(t.registry)


def test_job_runs_instances_inbox_and_alerts_are_exported() -> None:
    t = PrometheusTelemetry()
    t.job_finished("health_sweep", "ok", 1_700_000_000.0)
    t.job_finished("health_sweep", "StorageUnavailable", 1_700_000_060.0)
    t.instances_counted({"connected": 3, "disconnected": 0})
    t.inbox_measured(pending=7, oldest_pending_age_s=12.5, dead=2)
    t.alert_sent("instance_disconnected", "slack")
    assert _value(t, "wachannel_job_last_run_timestamp_seconds", job="health_sweep") == (
        1_700_000_060.0)
    assert _value(t, "wachannel_job_last_run_ok", job="health_sweep") == 0
    assert _value(t, "wachannel_job_runs_total", job="health_sweep", outcome="ok") == 1
    assert _value(t, "wachannel_instances", state="connected") == 3
    assert _value(t, "wachannel_instances", state="disconnected") == 0
    assert _value(t, "wachannel_inbox_pending") == 7
    assert _value(t, "wachannel_inbox_oldest_pending_age_seconds") == 12.5
    assert _value(t, "wachannel_webhook_dead_letters") == 2
    assert _value(t, "wachannel_alerts_sent_total", rule="instance_disconnected",
                  channel="slack") == 1


def test_with_recording_off_the_request_and_webhook_paths_record_nothing() -> None:
    t = PrometheusTelemetry(recording=False)
    t.webhook_received("MESSAGES_UPSERT", "accepted")
    t.webhook_processed("MESSAGES_UPSERT", "stored", 0.01)
    t.error("webhook_processing")
    t.http_seconds.labels("/api/health", "GET", "200").observe(0.001)
    text = generate_latest(t.registry)
    assert b"MESSAGES_UPSERT" not in text
    assert b'kind="webhook_processing"' not in text
    assert b'route="/api/health"' not in text

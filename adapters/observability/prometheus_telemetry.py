from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.process_collector import ProcessCollector

from application.ports.telemetry import Telemetry

_FAST = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_QR = (0.1, 0.25, 0.5, 1, 1.5, 2, 3, 5, 8, 13, 30)


class _Discard:
    """An instrument that keeps nothing: labels and observations cost one call each."""

    def labels(self, *values: str) -> _Discard:
        return self

    def observe(self, value: float) -> None:
        return None

    def inc(self, amount: float = 1) -> None:
        return None


_DISCARD: Any = _Discard()


class PrometheusTelemetry(Telemetry):
    """Every metric of API.md section 10 in one registry owned by this process."""

    def __init__(self, recording: bool = True) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)  # process memory and CPU
        r = self.registry
        self.qr_seconds = Histogram("wachannel_qr_generation_seconds",
                                    "Connect request to first QR", buckets=_QR, registry=r)
        self.http_seconds = Histogram("wachannel_http_request_duration_seconds",
                                      "HTTP request duration", ["route", "method", "status"],
                                      buckets=_FAST, registry=r)
        self.webhook_seconds = Histogram("wachannel_webhook_processing_seconds",
                                         "Inbox event processing time", ["event"],
                                         buckets=_FAST, registry=r)
        self.webhook_events = Counter("wachannel_webhook_events_total",
                                      "Webhook deliveries and processing outcomes",
                                      ["event", "outcome"], registry=r)
        self.evolution_seconds = Histogram("wachannel_evolution_request_duration_seconds",
                                           "Evolution API call duration",
                                           ["endpoint", "outcome"], buckets=_FAST, registry=r)
        self.errors = Counter("wachannel_errors_total", "Failures by kind", ["kind"],
                              registry=r)
        self.pool_in_use = Gauge("wachannel_evolution_pool_in_use",
                                 "Evolution connections in use", registry=r)
        self.qr_streams_open = Gauge("wachannel_qr_streams_open", "QR streams held open now",
                                     registry=r)
        self.circuit_state = Gauge("wachannel_evolution_circuit_open",
                                   "1 while Evolution's global circuit is open or half-open",
                                   registry=r)
        self.open_instance_circuits = Gauge(
            "wachannel_evolution_instance_circuits_open",
            "Instances whose own circuit is open or half-open", registry=r)
        self._open_instances: set[str] = set()
        self.instances = Gauge("wachannel_instances", "Instances by state (refreshed by the "
                               "leader)", ["state"], registry=r)
        self.inbox_pending = Gauge("wachannel_inbox_pending",
                                   "Inbox events waiting or being processed", registry=r)
        self.inbox_oldest_age = Gauge("wachannel_inbox_oldest_pending_age_seconds",
                                      "Age of the oldest pending inbox event", registry=r)
        self.dead_letters = Gauge("wachannel_webhook_dead_letters", "Dead-lettered events",
                                  registry=r)
        self.job_last_run = Gauge("wachannel_job_last_run_timestamp_seconds",
                                  "When each periodic job last ended", ["job"], registry=r)
        self.job_last_ok = Gauge("wachannel_job_last_run_ok",
                                 "1 when the job's last run succeeded", ["job"], registry=r)
        self.job_runs = Counter("wachannel_job_runs_total", "Periodic job runs by outcome",
                                ["job", "outcome"], registry=r)
        self.alerts_sent = Counter("wachannel_alerts_sent_total",
                                   "Alerts and recovery notices sent", ["rule", "channel"],
                                   registry=r)
        if not recording:
            # METRICS_DISABLED: what the request and webhook paths record goes nowhere, so
            # that a benchmark can measure what recording it costs (docs/performance.md).
            self.http_seconds = self.webhook_seconds = self.webhook_events = _DISCARD
            self.evolution_seconds = self.errors = _DISCARD
        self.legacy_calls = Counter("wachannel_legacy_route_calls_total",
                                    "Calls to deprecated routes", ["route", "organization_id"],
                                    registry=r)

    def qr_generated(self, seconds: float) -> None:
        self.qr_seconds.observe(seconds)

    def webhook_processed(self, event: str, outcome: str, seconds: float) -> None:
        self.webhook_seconds.labels(event).observe(seconds)
        self.webhook_events.labels(event, outcome).inc()

    def webhook_received(self, event: str, outcome: str) -> None:
        self.webhook_events.labels(event, outcome).inc()

    def error(self, kind: str) -> None:
        self.errors.labels(kind).inc()

    def legacy_route_used(self, route: str, organization_id: str) -> None:
        self.legacy_calls.labels(route, organization_id).inc()

    # Evolution adapter observer hooks
    def request_finished(self, endpoint: str, outcome: str, seconds: float) -> None:
        self.evolution_seconds.labels(endpoint, outcome).observe(seconds)
        if outcome != "ok":
            self.errors.labels(f"evolution_{outcome}").inc()

    def circuit_changed(self, scope: str, state: str) -> None:
        # Instances are counted, never labelled: their names would explode the series.
        is_open = state != "closed"
        if not scope.startswith("instance:"):
            self.circuit_state.set(1 if is_open else 0)
            return
        if is_open:
            self._open_instances.add(scope)
        else:
            self._open_instances.discard(scope)
        self.open_instance_circuits.set(len(self._open_instances))

    # Operations
    def job_finished(self, job: str, outcome: str, at_epoch_s: float) -> None:
        self.job_last_run.labels(job).set(at_epoch_s)
        self.job_last_ok.labels(job).set(1 if outcome == "ok" else 0)
        # The outcome label is "ok" or an error's class name: a short, fixed list.
        self.job_runs.labels(job, outcome).inc()

    def instances_counted(self, by_state: Mapping[str, int]) -> None:
        for state, count in by_state.items():
            self.instances.labels(state).set(count)

    def inbox_measured(self, pending: int, oldest_pending_age_s: float, dead: int) -> None:
        self.inbox_pending.set(pending)
        self.inbox_oldest_age.set(oldest_pending_age_s)
        self.dead_letters.set(dead)

    def alert_sent(self, rule: str, channel: str) -> None:
        self.alerts_sent.labels(rule, channel).inc()

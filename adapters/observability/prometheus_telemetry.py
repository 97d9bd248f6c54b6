from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.process_collector import ProcessCollector

from application.ports.telemetry import Telemetry

_FAST = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_QR = (0.1, 0.25, 0.5, 1, 1.5, 2, 3, 5, 8, 13, 30)


class PrometheusTelemetry(Telemetry):
    """Every metric of API.md section 10 in one registry owned by this process."""

    def __init__(self) -> None:
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
                                   "1 while a circuit is open", ["scope"], registry=r)
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
        # One series for Evolution as a whole, one for all instances: names would explode labels.
        self.circuit_state.labels(scope.split(":", 1)[0]).set(1 if state == "open" else 0)

"""The measurement rules' feed: the telemetry the use cases already report, passed on."""

from __future__ import annotations

from collections.abc import Mapping

from application.alerting.engine import AlertEngine
from application.ports.telemetry import Telemetry
from domain.alerts import slow


class AlertingTelemetry(Telemetry):
    """Telemetry that also shows its measurements to the alert engine, then passes every call
    to ``inner``. It is the Evolution transport's observer too (``request_finished``)."""

    def __init__(self, inner: Telemetry, engine: AlertEngine) -> None:
        self._inner = inner
        self._engine = engine
        # Cumulative, for the windowed evaluation: the use cases behind this feed (connect,
        # the worker, the Evolution transport) are where nearly every error is counted.
        self.webhooks_failed = 0
        self.webhooks_total = 0
        self.errors = 0

    def qr_generated(self, seconds: float) -> None:
        self._inner.qr_generated(seconds)
        self._engine.observe("qr_failures", bad=False)

    def qr_failed(self, reason: str) -> None:
        self._inner.qr_failed(reason)
        self._engine.observe("qr_failures", bad=True, detail=f"QR generation failed: {reason}")

    def webhook_processed(self, event: str, outcome: str, seconds: float) -> None:
        self._inner.webhook_processed(event, outcome, seconds)
        self.webhooks_total += 1
        self.webhooks_failed += outcome == "failed"
        limit = self._engine.policy.webhook_processing_ms
        ms = seconds * 1000
        self._engine.observe("webhook_processing_slow", bad=slow(ms, limit),
                             detail=f"{event} took {ms:.0f} ms (limit {limit:.0f} ms)")

    def webhook_received(self, event: str, outcome: str) -> None:
        self._inner.webhook_received(event, outcome)

    def error(self, kind: str) -> None:
        self._inner.error(kind)
        self.errors += 1

    def legacy_route_used(self, route: str, organization_id: str) -> None:
        self._inner.legacy_route_used(route, organization_id)

    def alert_sent(self, rule: str, channel: str) -> None:
        self._inner.alert_sent(rule, channel)

    def job_finished(self, job: str, outcome: str, at_epoch_s: float) -> None:
        self._inner.job_finished(job, outcome, at_epoch_s)

    def instances_counted(self, by_state: Mapping[str, int]) -> None:
        self._inner.instances_counted(by_state)

    def inbox_measured(self, pending: int, oldest_pending_age_s: float, dead: int) -> None:
        self._inner.inbox_measured(pending, oldest_pending_age_s, dead)

    def request_finished(self, endpoint: str, outcome: str, seconds: float) -> None:
        observer = getattr(self._inner, "request_finished", None)
        if observer is not None:
            observer(endpoint, outcome, seconds)
        self.errors += outcome != "ok"
        if outcome == "circuit_open":
            return  # not sent: no answer to time
        limit = self._engine.policy.api_response_ms
        ms = seconds * 1000
        self._engine.observe("api_response_slow", bad=slow(ms, limit),
                             detail=f"Evolution {endpoint} answered in {ms:.0f} ms "
                                    f"(limit {limit:.0f} ms)")

    def circuit_changed(self, scope: str, state: str) -> None:
        observer = getattr(self._inner, "circuit_changed", None)
        if observer is not None:
            observer(scope, state)

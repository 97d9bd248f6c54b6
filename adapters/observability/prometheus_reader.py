"""The dashboard's reading of the process's own Prometheus registry."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from prometheus_client import Metric

from adapters.observability.prometheus_telemetry import PrometheusTelemetry
from application.ports.telemetry_reader import HistogramReading, TelemetryReader, TelemetryReading


def _families(instrument: Any) -> Iterable[Metric]:
    # With METRICS_DISABLED the request and webhook instruments keep nothing and have nothing
    # to collect: their series are empty, not an error.
    collect = getattr(instrument, "collect", None)
    return collect() if collect is not None else ()


def _buckets(histogram: Any) -> HistogramReading:
    """Every label set summed per bound: the dashboard charts the service as a whole."""
    counts: dict[float, float] = defaultdict(float)
    for metric in _families(histogram):
        for sample in metric.samples:
            if sample.name.endswith("_bucket"):
                counts[float(sample.labels["le"])] += sample.value
    bounds = tuple(sorted(counts)) or (math.inf,)
    return HistogramReading(bounds, tuple(counts.get(b, 0.0) for b in bounds))


def _total(metric: Any, suffix: str, status_prefix: str | None = None) -> float:
    total = 0.0
    for family in _families(metric):
        for sample in family.samples:
            if sample.name.endswith(suffix) and (
                    status_prefix is None
                    or sample.labels.get("status", "").startswith(status_prefix)):
                total += sample.value
    return total


class PrometheusTelemetryReader(TelemetryReader):
    def __init__(self, telemetry: PrometheusTelemetry) -> None:
        self._t = telemetry

    def read(self) -> TelemetryReading:
        return TelemetryReading(
            qr=_buckets(self._t.qr_seconds), webhook=_buckets(self._t.webhook_seconds),
            http_requests=_total(self._t.http_seconds, "_count"),
            http_server_errors=_total(self._t.http_seconds, "_count", "5"),
            errors=_total(self._t.errors, "_total"))

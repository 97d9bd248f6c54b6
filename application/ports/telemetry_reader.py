"""Reading back what the telemetry has counted so far, for the in-process dashboard."""

from __future__ import annotations

from abc import ABC, abstractmethod

import attrs


@attrs.frozen
class HistogramReading:
    """One histogram's cumulative bucket counts since the process started.

    ``bounds`` are the upper bounds in ascending order, the last one ``inf``; ``counts[i]`` is
    how many observations were at most ``bounds[i]`` (so ``counts[-1]`` is the total).
    """

    bounds: tuple[float, ...]
    counts: tuple[float, ...]


@attrs.frozen
class TelemetryReading:
    """The counters the dashboard charts, every one cumulative (never reset while running)."""

    qr: HistogramReading
    webhook: HistogramReading
    http_requests: float
    http_server_errors: float
    errors: float


class TelemetryReader(ABC):
    @abstractmethod
    def read(self) -> TelemetryReading:
        """The values now; cheap enough to call every few seconds."""

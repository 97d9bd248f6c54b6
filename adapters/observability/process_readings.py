from __future__ import annotations

import resource
from collections.abc import Callable
from pathlib import Path

from application.alerting.feed import AlertingTelemetry
from application.ports.alerts import ProcessReadings

_STATM = Path("/proc/self/statm")


class LocalProcessReadings(ProcessReadings):
    """This process's counters for the windowed alert rules: errors and webhook outcomes from
    the alert feed, resident memory from /proc (peak RSS where there is none), and the
    Evolution pool's use."""

    def __init__(self, feed: AlertingTelemetry,
                 pool_in_use: Callable[[], int], pool_size: int) -> None:
        self._feed = feed
        self._pool_in_use = pool_in_use
        self._pool_size = pool_size

    def errors(self) -> float:
        return self._feed.errors

    def webhooks(self) -> tuple[int, int]:
        return self._feed.webhooks_failed, self._feed.webhooks_total

    def memory_bytes(self) -> int:
        try:
            return int(_STATM.read_text().split()[1]) * resource.getpagesize()
        except (OSError, IndexError, ValueError):
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    def pool(self) -> tuple[int, int]:
        return self._pool_in_use(), self._pool_size

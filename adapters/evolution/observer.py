from __future__ import annotations

from typing import Protocol

# ``request_finished`` outcomes: ok, refused (4xx, Evolution said no), server_error (5xx),
# timeout, unavailable (no connection), circuit_open (not sent), cancelled.


class EvolutionObserver(Protocol):
    """Measurement hooks for the composition root (Prometheus); must not block or raise."""

    def request_finished(self, endpoint: str, outcome: str, seconds: float) -> None:
        """One logical call to Evolution ended (retries included) after ``seconds``."""

    def circuit_changed(self, scope: str, state: str) -> None:
        """A breaker moved. ``scope`` is ``evolution`` or ``instance:<name>`` (split on ':'
        for a low-cardinality label); ``state`` is closed, open or half_open."""


class NullObserver:
    def request_finished(self, endpoint: str, outcome: str, seconds: float) -> None:
        pass

    def circuit_changed(self, scope: str, state: str) -> None:
        pass

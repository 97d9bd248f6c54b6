from __future__ import annotations

from abc import ABC, abstractmethod


class Telemetry(ABC):
    """Measurements the use cases report; the adapter decides where they go (Prometheus)."""

    @abstractmethod
    def qr_generated(self, seconds: float) -> None:
        """Time from a connect request (or a create) to its first QR."""

    @abstractmethod
    def webhook_processed(self, event: str, outcome: str, seconds: float) -> None:
        """One inbox event processed (or failed) and how long it took."""

    @abstractmethod
    def webhook_received(self, event: str, outcome: str) -> None:
        """One delivery answered at the edge: accepted, duplicate, rejected, limited."""

    @abstractmethod
    def error(self, kind: str) -> None:
        """One failure of the kind named."""

    @abstractmethod
    def legacy_route_used(self, route: str, organization_id: str) -> None:
        """A deprecated route was called: the sunset is safe once this stays at zero."""


class Alerter(ABC):
    @abstractmethod
    async def alert(self, name: str, detail: str) -> None:
        """Tell the on-call channels; the same name is not repeated within the cooldown."""

    @abstractmethod
    async def recover(self, name: str) -> None:
        """Announce that the condition behind ``name`` has cleared (once)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping


class Telemetry(ABC):
    """Measurements the use cases report; the adapter decides where they go (Prometheus)."""

    @abstractmethod
    def qr_generated(self, seconds: float) -> None:
        """Time from a connect request (or a create) to its first QR."""

    def qr_failed(self, reason: str) -> None:
        """A connect (or a create's socket) ended without a QR; ``reason`` is short and fixed.
        A telemetry that counts these elsewhere (``error``) may leave this as it is."""
        return None

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

    # Operations measurements: a telemetry that keeps none of them may leave these as they are.

    def job_finished(self, job: str, outcome: str, at_epoch_s: float) -> None:
        """One run of a periodic job ended, ``ok`` or with the error's name."""
        return None

    def instances_counted(self, by_state: Mapping[str, int]) -> None:
        """How many instances are in each state now (every state named, zeros too)."""
        return None

    def inbox_measured(self, pending: int, oldest_pending_age_s: float, dead: int) -> None:
        """The inbox backlog, the age of its oldest pending event, and its dead letters."""
        return None

    def alert_sent(self, rule: str, channel: str) -> None:
        """One alert (or recovery notice) delivered by ``channel`` for ``rule``."""
        return None


class Alerter(ABC):
    @abstractmethod
    async def alert(self, name: str, detail: str, key: str = "") -> None:
        """Tell the on-call channels; the same name (for the same ``key``, an instance or
        ``""`` for the service) is not repeated within the cooldown."""

    @abstractmethod
    async def recover(self, name: str, key: str = "") -> None:
        """Announce that the condition behind ``name`` (and ``key``) has cleared (once)."""

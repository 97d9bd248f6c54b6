"""Telemetry and alerting that keep what they are told, for tests to read back."""

from __future__ import annotations

from collections import Counter

from application.ports.telemetry import Alerter, Telemetry


class RecordingTelemetry(Telemetry):
    """Every measurement, in call order.

    Shortcuts: no histograms or labels, just lists; nothing is exported.
    """

    def __init__(self) -> None:
        self.qr_seconds: list[float] = []
        self.processed: list[tuple[str, str, float]] = []  # (event, outcome, seconds)
        self.received: list[tuple[str, str]] = []  # (event, outcome)
        self.errors: Counter[str] = Counter()
        self.legacy_calls: Counter[tuple[str, str]] = Counter()

    def qr_generated(self, seconds: float) -> None:
        self.qr_seconds.append(seconds)

    def webhook_processed(self, event: str, outcome: str, seconds: float) -> None:
        self.processed.append((event, outcome, seconds))

    def webhook_received(self, event: str, outcome: str) -> None:
        self.received.append((event, outcome))

    def error(self, kind: str) -> None:
        self.errors[kind] += 1

    def legacy_route_used(self, route: str, organization_id: str) -> None:
        self.legacy_calls[(route, organization_id)] += 1


class RecordingAlerter(Alerter):
    """Every alert and recovery, in call order.

    Shortcuts: no cooldown (a repeated alert is recorded again, where the real alerter would
    stay silent) and no channels; ``recover`` is recorded even for a name never alerted.
    """

    def __init__(self) -> None:
        self.alerts: list[tuple[str, str]] = []  # (name, detail)
        self.recoveries: list[str] = []
        self.keyed: list[tuple[str, str, str]] = []  # (alert | recover, name, key)

    async def alert(self, name: str, detail: str, key: str = "") -> None:
        self.alerts.append((name, detail))
        self.keyed.append(("alert", name, key))

    async def recover(self, name: str, key: str = "") -> None:
        self.recoveries.append(name)
        self.keyed.append(("recover", name, key))

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.alerts]

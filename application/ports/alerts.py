from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

import attrs

from domain.alerts import AlertState, Decision, Notice


@attrs.frozen
class AlertRecord:
    """One alert episode as ``GET /api/admin/alerts`` lists it."""

    id: str
    rule: str
    key: str
    severity: str
    state: str  # firing | resolved
    detail: str
    first_at: str
    last_at: str
    channels: dict[str, str]


class AlertStore(ABC):
    """Alert state shared by every replica: one row per (rule, key), and the episodes."""

    @abstractmethod
    async def decide(self, rule: str, key: str,
                     step: Callable[[AlertState], Decision]) -> Decision:
        """Run ``step`` on the stored state of (rule, key) (a fresh one when none) while no
        other replica can, store what it returns and, when it carries a notice, the episode.
        Two replicas deciding at once see each other's result: one notice, never two."""

    @abstractmethod
    async def record_delivery(self, alert_id: str, channel: str, outcome: str) -> None:
        """Remember how one channel fared with the episode's last notice (sent | failed)."""

    @abstractmethod
    async def recent(self, limit: int) -> list[AlertRecord]:
        """The latest episodes, newest first."""

    @abstractmethod
    async def firing(self, rule: str) -> list[str]:
        """The keys whose state for ``rule`` is firing now."""


class AlertChannel(ABC):
    """One way to reach a person (Slack, email, SMS, the log)."""

    name: str

    @abstractmethod
    async def send(self, notice: Notice) -> None:
        """Deliver the notice once; raises on failure (the caller retries). Never logs a
        secret held in the channel's address."""

    async def close(self) -> None:
        """Release what the channel holds (a session); a channel holding nothing keeps this."""
        return None


class ProcessReadings(ABC):
    """What this process has counted so far, for the windowed alert rules."""

    @abstractmethod
    def errors(self) -> float:
        """Failures of every kind counted since the process started."""

    @abstractmethod
    def webhooks(self) -> tuple[int, int]:
        """Webhook events processed since the process started: (failed, total)."""

    @abstractmethod
    def memory_bytes(self) -> int:
        """Resident memory now."""

    @abstractmethod
    def pool(self) -> tuple[int, int]:
        """Evolution connections: (in use now, pool size)."""

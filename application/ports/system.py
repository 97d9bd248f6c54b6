from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime
from uuid import UUID


class Clock(ABC):
    @abstractmethod
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""

    @abstractmethod
    def monotonic(self) -> float:
        """Seconds from an arbitrary origin, for durations."""


class IdGenerator(ABC):
    @abstractmethod
    def uuid(self) -> UUID:
        """A new random UUID."""

    @abstractmethod
    def secret(self) -> str:
        """A new unguessable URL-safe secret (at least 256 bits)."""

    @abstractmethod
    def hex8(self) -> str:
        """Eight random lowercase hex characters (Evolution instance name suffix)."""

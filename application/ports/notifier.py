from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any

INSTANCE_TOPIC = "instance:{}"
FLAGS_TOPIC = "flags"
INBOX_TOPIC = "inbox"


class Notifier(ABC):
    """Fan-out of committed signals to every subscriber on every replica."""

    @abstractmethod
    def subscribe(
        self, topic: str
    ) -> AbstractAsyncContextManager[AsyncIterator[Mapping[str, Any]]]:
        """Receive the payloads published on ``topic`` from now until the context exits.

        A slow subscriber loses the oldest payloads rather than blocking publishers; payloads
        are hints to re-read the store, never the only copy of anything.
        """

    @abstractmethod
    async def publish(self, topic: str, payload: Mapping[str, Any]) -> None:
        """Deliver a payload now (used after a commit by units of work)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any

from adapters.fanout import LocalFanout
from application.ports.notifier import Notifier


class InMemoryNotifier(Notifier):
    """Delivers within this process only: right for one replica with the in-memory store."""

    def __init__(self, maxsize: int = 100) -> None:
        self.fanout = LocalFanout(maxsize)

    def subscribe(
        self, topic: str
    ) -> AbstractAsyncContextManager[AsyncIterator[Mapping[str, Any]]]:
        return self.fanout.subscribe(topic)

    async def publish(self, topic: str, payload: Mapping[str, Any]) -> None:
        self.fanout.publish(topic, payload)

"""Local fan-out of signals to subscribers in this process, shared by every Notifier adapter."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

Payload = Mapping[str, Any]
# The port promises subscribers small hints; Postgres NOTIFY itself stops at 8000 bytes.
MAX_SIGNAL_BYTES = 4096


def encode_signal(topic: str, payload: Payload) -> str:
    """The wire form of one signal; raise ``ValueError`` when it is too large to send."""
    text = json.dumps({"topic": topic, "payload": payload}, separators=(",", ":"), default=str)
    if len(text.encode()) > MAX_SIGNAL_BYTES:
        raise ValueError(f"signal for {topic} is over {MAX_SIGNAL_BYTES} bytes")
    return text


def decode_signal(text: str) -> tuple[str, Payload] | None:
    """The (topic, payload) of a wire signal, or None for anything malformed."""
    try:
        signal = json.loads(text)
    except ValueError:
        return None
    if not isinstance(signal, dict) or not isinstance(signal.get("topic"), str):
        return None
    payload = signal.get("payload")
    return signal["topic"], payload if isinstance(payload, dict) else {}


class Subscription:
    """Async iterator over one subscriber's bounded queue."""

    def __init__(self, maxsize: int) -> None:
        self.queue: asyncio.Queue[Payload] = asyncio.Queue(maxsize)

    def offer(self, payload: Payload) -> None:
        # A slow subscriber loses its oldest payload rather than blocking the publisher.
        if self.queue.full():
            self.queue.get_nowait()
        self.queue.put_nowait(payload)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Payload:
        return await self.queue.get()


class LocalFanout:
    def __init__(self, maxsize: int = 100) -> None:
        self._maxsize = maxsize
        self._subscribers: dict[str, set[Subscription]] = {}

    @asynccontextmanager
    async def subscribe(self, topic: str) -> AsyncIterator[AsyncIterator[Payload]]:
        subscription = Subscription(self._maxsize)
        self._subscribers.setdefault(topic, set()).add(subscription)
        try:
            yield subscription
        finally:
            subscribers = self._subscribers.get(topic, set())
            subscribers.discard(subscription)
            if not subscribers:
                self._subscribers.pop(topic, None)

    def publish(self, topic: str, payload: Payload) -> None:
        for subscription in list(self._subscribers.get(topic, ())):
            subscription.offer(dict(payload))

    def subscriber_count(self, topic: str | None = None) -> int:
        if topic is not None:
            return len(self._subscribers.get(topic, ()))
        return sum(len(subs) for subs in self._subscribers.values())

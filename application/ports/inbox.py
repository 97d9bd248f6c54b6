from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from datetime import datetime, timedelta
from uuid import UUID

import attrs

from application.ports.repositories import Page
from domain.text import UNSTORABLE, is_storable


class InboxStatus(enum.StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    DONE = "done"
    DEAD = "dead"


@attrs.frozen
class InboxEvent:
    """One acknowledged webhook delivery, kept byte for byte."""

    id: UUID
    organization_id: str
    instance_name: str
    event: str
    dedupe_key: str
    body: bytes
    received_at: datetime
    attempts: int = 0
    status: InboxStatus = InboxStatus.PENDING


@attrs.frozen
class DeadLetter:
    """A dead-lettered event as operators see it: never its body (patients' messages)."""

    id: UUID
    organization_id: str
    instance_name: str
    event: str
    received_at: datetime
    attempts: int
    last_error: str | None


@attrs.frozen
class DeadLetterQuery:
    organization_id: str | None = None
    limit: int = 50
    cursor: str | None = None


@attrs.frozen
class Admission:
    event_id: UUID
    duplicate: bool


def unstorable_fields(event: InboxEvent) -> dict[str, list[str]]:
    """The event's text columns that no store can keep (NUL, lone surrogates), by field name:
    every writer refuses such an event before it can spoil anyone else's write."""
    return {field: [UNSTORABLE] for field, value in (
        ("organization_id", event.organization_id), ("instance", event.instance_name),
        ("event", event.event), ("dedupe_key", event.dedupe_key)) if not is_storable(value)}


class WebhookInbox(ABC):
    """The worker's view of the inbox. Events come in only through ``InboxWriter.admit``."""

    @abstractmethod
    async def claim(self, limit: int, now: datetime, lease: timedelta) -> list[InboxEvent]:
        """Take up to ``limit`` due events for processing and count the attempt: lifecycle
        events (``domain.webhook.LIFECYCLE_EVENTS``) first, then oldest first.

        Two workers never claim the same event while its lease runs; an event whose worker
        died becomes claimable again when the lease ends.
        """

    @abstractmethod
    async def complete(self, event_id: UUID, outcome: str) -> None:
        """Mark the event processed. Idempotent."""

    @abstractmethod
    async def retry_later(self, event_id: UUID, error: str, at: datetime) -> None:
        """Release the event for another attempt at ``at``."""

    @abstractmethod
    async def park(self, event_id: UUID, error: str) -> None:
        """Mark the event dead: it will not be attempted again."""

    @abstractmethod
    async def counts(self) -> dict[InboxStatus, int]:
        """How many events are in each status."""

    @abstractmethod
    async def purge(self, received_before: datetime, limit: int) -> int:
        """Delete up to ``limit`` processed (``done``) events received before
        ``received_before``; return how many. Pending, processing and dead events stay. A
        redelivery of a purged event is admitted again: its effect is idempotent anyway."""


    @abstractmethod
    async def oldest_pending_at(self) -> datetime | None:
        """When the oldest pending (or processing) event was received; ``None`` when none."""

    @abstractmethod
    async def dead(self, query: DeadLetterQuery) -> Page[DeadLetter]:
        """Dead events, newest first (by receipt, then id), of one organization or all,
        paginated with an opaque cursor; raises ``ValidationFailed`` for a foreign cursor."""

    @abstractmethod
    async def revive(self, event_id: UUID, at: datetime) -> DeadLetter | None:
        """Put a dead event back as pending, due at ``at``, with its attempts reset to zero;
        return it as it was, or ``None`` when no dead event has that id (so a second replay
        of the same event finds nothing). The body and dedupe key are kept as they were."""


class InboxWriter(ABC):
    """The intake's way into the inbox: durable admission, shared by concurrent deliveries."""

    @abstractmethod
    async def admit(self, event: InboxEvent) -> Admission:
        """Store ``event``, committed before this returns, and wake the workers (``inbox``).

        Idempotent: when (organization, dedupe key) is stored already, nothing is stored and
        the first event's id comes back with ``duplicate=True``. Concurrent calls may share
        one transaction (group commit). Raises ``StorageUnavailable``.
        """

    async def close(self) -> None:
        """Finish the admissions under way and give back what the writer holds (before the
        store closes). Nothing to do for a writer that holds nothing."""
        return None

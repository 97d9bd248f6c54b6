from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Self

from application.ports.inbox import WebhookInbox
from application.ports.repositories import (
    AuditLog,
    FlagRepository,
    IdempotencyRepository,
    InstanceRepository,
    MessageRepository,
    OrganizationRepository,
)


class UnitOfWork(ABC):
    """One atomic piece of work over every store; nothing is kept unless ``commit`` is called.

    Signals passed to ``notify`` reach subscribers (on every replica) only after the commit,
    so nobody is ever told about a change that was rolled back.
    """

    instances: InstanceRepository
    organizations: OrganizationRepository
    audit: AuditLog
    flags: FlagRepository
    inbox: WebhookInbox
    messages: MessageRepository
    idempotency: IdempotencyRepository

    @abstractmethod
    async def __aenter__(self) -> Self:
        """Begin the transaction."""

    @abstractmethod
    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Roll back whatever was not committed and release the connection."""

    @abstractmethod
    async def commit(self) -> None:
        """Make the work durable, then deliver the pending signals."""

    @abstractmethod
    def notify(self, topic: str, payload: Mapping[str, Any]) -> None:
        """Queue a small signal (under 4 KB) for delivery after commit."""


UnitOfWorkFactory = Callable[[], UnitOfWork]

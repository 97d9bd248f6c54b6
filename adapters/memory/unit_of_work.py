from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any, Self

from adapters.fanout import encode_signal
from adapters.memory.audit_log import InMemoryAuditLog
from adapters.memory.flag_repository import InMemoryFlagRepository
from adapters.memory.idempotency_repository import InMemoryIdempotencyRepository
from adapters.memory.instance_repository import InMemoryInstanceRepository
from adapters.memory.message_repository import InMemoryMessageRepository
from adapters.memory.organization_repository import InMemoryOrganizationRepository
from adapters.memory.store import InMemoryStore, Journal
from adapters.memory.webhook_inbox import InMemoryWebhookInbox
from application.ports.notifier import Notifier
from application.ports.unit_of_work import UnitOfWork


class InMemoryUnitOfWork(UnitOfWork):
    """Serializable: holds the store-wide lock from enter to exit.

    Units of work must not nest (the lock is not reentrant: a nested one waits forever).
    Writes land in the store at once and are undone on exit without ``commit``.
    """

    def __init__(self, store: InMemoryStore, notifier: Notifier) -> None:
        self._store = store
        self._notifier = notifier
        self._journal = Journal()
        self._signals: list[tuple[str, Mapping[str, Any]]] = []
        self.instances = InMemoryInstanceRepository(store, self._journal)
        self.organizations = InMemoryOrganizationRepository(store, self._journal)
        self.audit = InMemoryAuditLog(store, self._journal)
        self.flags = InMemoryFlagRepository(store, self._journal)
        self.inbox = InMemoryWebhookInbox(store, self._journal)
        self.messages = InMemoryMessageRepository(store, self._journal)
        self.idempotency = InMemoryIdempotencyRepository(store, self._journal)

    async def __aenter__(self) -> Self:
        await self._store.lock.acquire()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self._journal.rollback()
            self._signals.clear()
        finally:
            self._store.lock.release()

    async def commit(self) -> None:
        self._journal.forget()
        signals, self._signals = self._signals, []
        for topic, payload in signals:
            await self._notifier.publish(topic, payload)

    def notify(self, topic: str, payload: Mapping[str, Any]) -> None:
        encode_signal(topic, payload)  # the same size limit as Postgres, caught here too
        self._signals.append((topic, dict(payload)))

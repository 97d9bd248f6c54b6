from __future__ import annotations

from adapters.memory.store import InMemoryStore
from adapters.memory.unit_of_work import InMemoryUnitOfWork
from application.ports.inbox import Admission, InboxEvent, InboxWriter
from application.ports.notifier import INBOX_TOPIC, Notifier


class InMemoryInboxWriter(InboxWriter):
    """One unit of work per admission: in one process there is nothing to group."""

    def __init__(self, store: InMemoryStore, notifier: Notifier) -> None:
        self._store = store
        self._notifier = notifier

    async def admit(self, event: InboxEvent) -> Admission:
        async with InMemoryUnitOfWork(self._store, self._notifier) as uow:
            admission = await uow.inbox.add(event)
            if not admission.duplicate:
                uow.notify(INBOX_TOPIC, {})
            await uow.commit()
        return admission

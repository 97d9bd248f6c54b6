from __future__ import annotations

from adapters.memory.store import InMemoryStore
from adapters.memory.unit_of_work import InMemoryUnitOfWork
from application.errors import ValidationFailed
from application.ports.inbox import Admission, InboxEvent, InboxWriter
from application.ports.notifier import INBOX_TOPIC, Notifier
from domain.text import is_storable

UNSTORABLE = "holds text the store cannot keep (NUL or a lone UTF-16 surrogate)"
TEXT_FIELDS = (("organization_id", "organization_id"), ("instance", "instance_name"),
               ("event", "event"), ("dedupe_key", "dedupe_key"))


class InMemoryInboxWriter(InboxWriter):
    """One unit of work per admission: in one process there is nothing to group.

    Refuses what Postgres would refuse, so that the embedded default never acknowledges an
    event a deployment on Postgres would answer 422."""

    def __init__(self, store: InMemoryStore, notifier: Notifier) -> None:
        self._store = store
        self._notifier = notifier

    async def admit(self, event: InboxEvent) -> Admission:
        refused = {field: [UNSTORABLE] for field, column in TEXT_FIELDS
                   if not is_storable(getattr(event, column))}
        if refused:
            raise ValidationFailed(refused, "the event cannot be stored")
        async with InMemoryUnitOfWork(self._store, self._notifier) as uow:
            admission = await uow.inbox.add(event)
            if not admission.duplicate:
                uow.notify(INBOX_TOPIC, {})
            await uow.commit()
        return admission

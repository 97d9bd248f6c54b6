from __future__ import annotations

from adapters.memory.store import InboxRow, InMemoryStore
from application.errors import Conflict, ValidationFailed
from application.ports.inbox import Admission, InboxEvent, InboxWriter, unstorable_fields
from application.ports.notifier import INBOX_TOPIC, Notifier


class InMemoryInboxWriter(InboxWriter):
    """Writes the store directly: in one process an admission is committed once written,
    and there is nothing to group.

    Refuses what Postgres would refuse, so that the embedded default never acknowledges an
    event a deployment on Postgres would answer 422."""

    def __init__(self, store: InMemoryStore, notifier: Notifier) -> None:
        self._store = store
        self._notifier = notifier

    async def admit(self, event: InboxEvent) -> Admission:
        refused = unstorable_fields(event)
        if refused:
            raise ValidationFailed(refused, "the event cannot be stored")
        store = self._store
        first = store.inbox_keys.get((event.organization_id, event.dedupe_key))
        if first is not None:
            return Admission(first, duplicate=True)
        if event.id in store.inbox:
            raise Conflict(f"inbox event {event.id} exists")  # as the Postgres primary key
        store.inbox[event.id] = InboxRow(event, event.received_at)
        store.inbox_keys[(event.organization_id, event.dedupe_key)] = event.id
        store.inbox_open[event.id] = None
        await self._notifier.publish(INBOX_TOPIC, {})
        return Admission(event.id, duplicate=False)

"""Dead-lettered webhook events: listed for operators, and put back in the inbox one by one."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from application.access import readable_organization
from application.audit.drafts import audit_draft
from application.errors import Forbidden, NotFound
from application.ports.inbox import DeadLetter, DeadLetterQuery
from application.ports.notifier import INBOX_TOPIC
from application.ports.system import Clock
from application.ports.unit_of_work import UnitOfWorkFactory
from application.presenters import rfc3339
from domain.access import Actor, Role
from domain.audit import AuditAction


class DeadLetterService:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def list(self, actor: Actor, query: DeadLetterQuery) -> dict[str, Any]:
        """One page, newest first; a tenant administrator sees only their organization's."""
        org = readable_organization(actor, query.organization_id)
        async with self._uow() as uow:
            page = await uow.inbox.dead(DeadLetterQuery(org, query.limit, query.cursor))
        return {"items": [dead_letter_view(d) for d in page.items],
                "next_cursor": page.next_cursor}

    async def replay(self, actor: Actor, event_id: UUID) -> dict[str, Any]:
        """Put the event back as pending with its attempts reset, audited ``webhook_replayed``,
        and wake the workers. ``NotFound`` when no dead event has that id (a second replay)."""
        if actor.role is not Role.ADMIN:
            raise Forbidden("only administrators may replay dead-lettered events")
        async with self._uow() as uow:
            now = self._clock.now()
            letter = await uow.inbox.revive(event_id, now)
            if letter is None:
                raise NotFound(f"dead-lettered event {event_id} not found")
            await uow.audit.append(audit_draft(
                actor, letter.organization_id, AuditAction.WEBHOOK_REPLAYED, now,
                {"event_id": str(letter.id), "event": letter.event,
                 "instance_name": letter.instance_name, "attempts": letter.attempts,
                 "last_error": letter.last_error}))
            uow.notify(INBOX_TOPIC, {})
            await uow.commit()
        return {"id": str(letter.id), "status": "pending", "replayed_at": rfc3339(now)}


def dead_letter_view(letter: DeadLetter) -> dict[str, Any]:
    return {"id": str(letter.id), "organization_id": letter.organization_id,
            "instance_name": letter.instance_name, "event": letter.event,
            "received_at": rfc3339(letter.received_at), "attempts": letter.attempts,
            "last_error": letter.last_error}

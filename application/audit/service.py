"""The audit trail as an auditor reads it: filtered pages and chain verification."""

from __future__ import annotations

from typing import Any

from application.access import readable_organization
from application.ports.repositories import AuditQuery
from application.ports.unit_of_work import UnitOfWorkFactory
from application.presenters import audit_view
from domain.access import Actor
from domain.audit import verify_chain


class AuditService:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def query(self, actor: Actor, query: AuditQuery) -> dict[str, Any]:
        org = readable_organization(actor, query.organization_id)
        async with self._uow() as uow:
            page = await uow.audit.query(AuditQuery(org, query.action, query.since, query.until,
                                                    query.limit, query.cursor))
        return {"items": [audit_view(e) for e in page.items], "next_cursor": page.next_cursor}

    async def verify(self, organization_id: str | None) -> dict[str, Any]:
        """Re-hash every link; with no organization, every organization's chain."""
        async with self._uow() as uow:
            orgs = [organization_id] if organization_id else await uow.audit.organizations()
            checked = 0
            for org in orgs:
                verdict = verify_chain(await uow.audit.chain(org))
                checked += verdict.checked
                if not verdict.valid:
                    return {"valid": False, "checked": checked, "organization_id": org,
                            "first_invalid_id": str(verdict.first_invalid_id)}
        return {"valid": True, "checked": checked, "first_invalid_id": None}

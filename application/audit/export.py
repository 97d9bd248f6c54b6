"""The audit trail as JSON Lines for an auditor, read page by page, never whole in memory."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime

from application.ports.unit_of_work import UnitOfWorkFactory
from domain.audit import GENESIS_HASH
from domain.audit_export import event_line, head_line

PAGE = 1000


class AuditExporter:
    def __init__(self, uow: UnitOfWorkFactory, page: int = PAGE) -> None:
        self._uow = uow
        self._page = page

    async def lines(self, organization_id: str | None, since: datetime | None = None,
                    until: datetime | None = None) -> AsyncGenerator[bytes, None]:
        """Each organization's chain in order, one event a line, then the head line.

        Every page is read in a unit of work of its own, so a slow reader holds no
        connection between pages.
        """
        async with self._uow() as uow:
            orgs = [organization_id] if organization_id else await uow.audit.organizations()
        head, count = GENESIS_HASH, 0
        for org in orgs:
            after = 0
            while True:
                async with self._uow() as uow:
                    page = await uow.audit.chain_page(org, after, self._page, since, until)
                for _, event in page:
                    head, count = event.hash, count + 1
                    yield event_line(event) + b"\n"
                if len(page) < self._page:
                    break
                after = page[-1][0]
        yield head_line(head, count) + b"\n"

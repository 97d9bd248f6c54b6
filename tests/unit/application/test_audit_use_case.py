"""AuditService: filtered pages with tenant isolation, and chain verification."""

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest

from adapters.memory.store import AuditRow
from application.errors import Forbidden
from application.ports.repositories import AuditQuery
from domain.access import Actor, Role
from tests.unit.application.harness import ADMIN, ORG, OTHER_ORG, tenant


async def history(app) -> None:
    """Two organizations' trails: three creates and a delete, spread over three hours."""
    first = await app.new_instance(ORG)
    app.clock.advance(3600)
    await app.new_instance(ORG)
    app.clock.advance(3600)
    await app.instances.delete(ADMIN, first.id)
    await app.new_instance(OTHER_ORG)


def actions(page) -> list[str]:
    return [item["action"] for item in page["items"]]


async def test_admin_query_filters_by_org_action_and_time_newest_first(app):
    await history(app)
    start = app.clock.now() - timedelta(hours=2)

    everything = await app.audit.query(ADMIN, AuditQuery())
    mine = await app.audit.query(ADMIN, AuditQuery(ORG))
    created = await app.audit.query(ADMIN, AuditQuery(ORG, "instance_created"))
    first_hour = await app.audit.query(ADMIN, AuditQuery(ORG, None, start,
                                                         start + timedelta(hours=1)))

    assert len(everything["items"]) == 4
    assert actions(mine) == ["instance_deleted", "instance_created", "instance_created"]
    assert actions(created) == ["instance_created", "instance_created"]
    assert actions(first_hour) == ["instance_created"]
    assert first_hour["items"][0]["timestamp"] == "2026-01-05T12:00:00.000Z"


async def test_query_pages_with_a_cursor(app):
    await history(app)

    first = await app.audit.query(ADMIN, AuditQuery(ORG, limit=2))
    second = await app.audit.query(ADMIN, AuditQuery(ORG, limit=2, cursor=first["next_cursor"]))

    assert len(first["items"]) == 2
    assert first["next_cursor"] is not None
    assert len(second["items"]) == 1
    assert second["next_cursor"] is None
    assert {i["id"] for i in first["items"]}.isdisjoint(i["id"] for i in second["items"])


async def test_tenant_sees_only_its_own_organizations_events(app):
    await history(app)

    page = await app.audit.query(tenant(ORG), AuditQuery())

    assert {item["organization_id"] for item in page["items"]} == {ORG}
    assert len(page["items"]) == 3


async def test_tenant_asking_for_another_organization_is_forbidden(app):
    await history(app)

    with pytest.raises(Forbidden):
        await app.audit.query(tenant(ORG), AuditQuery(OTHER_ORG))
    with pytest.raises(Forbidden):
        await app.audit.query(Actor("probe", Role.SYSTEM), AuditQuery(ORG))


async def test_verify_accepts_an_untouched_chain(app):
    await history(app)

    assert await app.audit.verify(ORG) == {"valid": True, "checked": 3,
                                           "first_invalid_id": None}
    assert await app.audit.verify(None) == {"valid": True, "checked": 4,
                                            "first_invalid_id": None}


async def test_verify_names_the_first_edited_event(app):
    await history(app)
    second = app.audit_events(ORG)[1]
    row = app.store.audit[second.id]
    app.store.audit[second.id] = AuditRow(row.seq, attrs.evolve(row.event, actor_id="mallory"))

    verdict = await app.audit.verify(ORG)

    assert verdict == {"valid": False, "checked": 2, "organization_id": ORG,
                       "first_invalid_id": str(second.id)}
    assert (await app.audit.verify(OTHER_ORG))["valid"] is True


async def test_verify_detects_a_deleted_event(app):
    await history(app)
    _, second, third = app.audit_events(ORG)
    del app.store.audit[second.id]

    verdict = await app.audit.verify(None)

    assert verdict["valid"] is False
    assert verdict["first_invalid_id"] == str(third.id)

"""AuditLog contract: a verifiable chain per organization, newest-first queries."""

from __future__ import annotations

from datetime import timedelta, timezone

import pytest

from application.ports.repositories import AuditQuery
from domain.audit import GENESIS_HASH, AuditAction, verify_chain
from tests.storage_builders import T0, a_draft, org_id


async def _append(backend, *drafts):
    async with backend.uow() as uow:
        events = [await uow.audit.append(draft) for draft in drafts]
        await uow.commit()
    return events


async def _query(backend, **query):
    async with backend.uow() as uow:
        return await uow.audit.query(AuditQuery(**query))


async def test_appended_events_form_a_chain_that_verifies(backend):
    org = org_id()
    first, second = await _append(backend, a_draft(org), a_draft(org, at=T0 - timedelta(1)))
    await _append(backend, a_draft(org))
    async with backend.uow() as uow:
        chain = await uow.audit.chain(org)
    assert first.prev_hash == GENESIS_HASH
    assert second.prev_hash == first.hash
    assert [e.id for e in chain[:2]] == [first.id, second.id]
    assert verify_chain(chain).valid
    assert verify_chain(chain).checked == 3


async def test_each_organization_has_its_own_chain(backend):
    a, b = org_id(), org_id()
    await _append(backend, a_draft(a), a_draft(b), a_draft(a))
    async with backend.uow() as uow:
        assert len(await uow.audit.chain(a)) == 2
        assert (await uow.audit.chain(b))[0].prev_hash == GENESIS_HASH
        assert {a, b} <= set(await uow.audit.organizations())


async def test_a_non_utc_timestamp_still_verifies_after_reading_back(backend):
    org = org_id()
    await _append(backend, a_draft(org, at=T0.astimezone(timezone(timedelta(hours=-3)))))
    async with backend.uow() as uow:
        assert verify_chain(await uow.audit.chain(org)).valid


async def test_details_survive_the_round_trip_as_hashed(backend):
    org = org_id()
    details = {"performance_metrics": {"qr_generation_time": 1e20, "api_response_time": 0.1},
               "instance_name": "clínica-😀", "nested": [1, None, True]}
    (event,) = await _append(backend, a_draft(org, **details))
    async with backend.uow() as uow:
        (stored,) = await uow.audit.chain(org)
    assert stored == event
    assert verify_chain([stored]).valid


async def test_query_is_newest_first_and_pages_without_gaps(backend):
    org = org_id()
    events = await _append(backend, *(a_draft(org, at=T0 + timedelta(minutes=i % 4))
                                      for i in range(9)))
    seen, cursor = [], None
    while True:
        page = await _query(backend, organization_id=org, limit=4, cursor=cursor)
        seen += page.items
        if (cursor := page.next_cursor) is None:
            break
    expected = sorted(events, key=lambda e: (e.timestamp, e.id), reverse=True)
    assert [e.id for e in seen] == [e.id for e in expected]


async def test_query_filters_by_action_and_half_open_time_window(backend):
    org = org_id()
    await _append(backend, a_draft(org, at=T0), a_draft(org, at=T0 + timedelta(hours=1)),
                  a_draft(org, at=T0 + timedelta(hours=2)),
                  a_draft(org, at=T0 + timedelta(hours=1), action=AuditAction.FLAG_CHANGED))
    page = await _query(backend, organization_id=org, action=AuditAction.INSTANCE_CREATED,
                        since=T0 + timedelta(hours=1), until=T0 + timedelta(hours=2))
    assert [(e.action, e.timestamp) for e in page.items] == [
        ("instance_created", T0 + timedelta(hours=1))]


async def test_query_without_organization_spans_all_of_them(backend):
    a, b = org_id(), org_id()
    await _append(backend, a_draft(a, at=T0 + timedelta(days=900)),
                  a_draft(b, at=T0 + timedelta(days=901)))
    page = await _query(backend, since=T0 + timedelta(days=900), limit=10)
    assert [e.organization_id for e in page.items] == [b, a]


@pytest.mark.parametrize("cursor", ["%%%", "YQ", "bm90fGE"])
async def test_a_forged_cursor_is_a_validation_error(backend, cursor):
    from application.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        await _query(backend, cursor=cursor)

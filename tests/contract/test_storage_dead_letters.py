"""WebhookInbox contract for dead letters: listed with their last error, replayed once."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from application.errors import ValidationFailed
from application.ports.inbox import DeadLetterQuery, InboxStatus
from tests.storage_builders import T0, an_event, org_id

LEASE = timedelta(seconds=30)


async def _dead(backend, *events, error="unparseable"):
    for event in events:
        await backend.inbox_writer.admit(event)
    async with backend.uow() as uow:
        claimed = await uow.inbox.claim(len(events), T0 + timedelta(days=1), LEASE)
        assert len(claimed) == len(events)
        for event in events:
            await uow.inbox.park(event.id, error)
        await uow.commit()


async def _list(backend, **query):
    async with backend.uow() as uow:
        return await uow.inbox.dead(DeadLetterQuery(**query))


async def test_dead_letters_are_listed_newest_first_with_last_error_and_attempts(backend):
    org = org_id()
    events = [an_event(org, at=T0 + timedelta(seconds=s)) for s in (1, 3, 2)]
    await _dead(backend, *events, error="TimeoutError")
    await backend.inbox_writer.admit(an_event(org))  # pending: not a dead letter
    page = await _list(backend, organization_id=org)
    assert [d.id for d in page.items] == [events[1].id, events[2].id, events[0].id]
    assert {(d.attempts, d.last_error, d.organization_id) for d in page.items} == {
        (1, "TimeoutError", org)}
    assert page.next_cursor is None


async def test_dead_letters_of_one_organization_never_show_another(backend):
    mine, theirs = an_event(org_id()), an_event(org_id())
    await _dead(backend, mine, theirs)
    assert [d.id for d in (await _list(backend, organization_id=mine.organization_id)).items
            ] == [mine.id]
    everyone = {d.id for d in (await _list(backend)).items}
    assert {mine.id, theirs.id} <= everyone


async def test_dead_letters_page_without_gaps(backend):
    org = org_id()
    events = [an_event(org, at=T0 + timedelta(seconds=s)) for s in range(5)]
    await _dead(backend, *events)
    seen, cursor = [], None
    while True:
        page = await _list(backend, organization_id=org, limit=2, cursor=cursor)
        seen += [d.id for d in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [e.id for e in reversed(events)]


async def test_a_forged_cursor_is_a_validation_error(backend):
    with pytest.raises(ValidationFailed):
        await _list(backend, cursor="bm90LWEtY3Vyc29y")


async def test_revive_puts_a_dead_event_back_as_pending_and_claimable_once(backend):
    event = an_event()
    await _dead(backend, event, error="boom")
    later = T0 + timedelta(days=2)
    async with backend.uow() as uow:
        revived = await uow.inbox.revive(event.id, later)
        await uow.commit()
    assert (revived.id, revived.last_error, revived.attempts) == (event.id, "boom", 1)
    async with backend.uow() as uow:
        assert await uow.inbox.revive(event.id, later) is None  # no longer dead
        assert await uow.inbox.revive(uuid.uuid4(), later) is None
        assert (await uow.inbox.counts())[InboxStatus.DEAD] == 0
        assert await uow.inbox.oldest_pending_at() == event.received_at
        claimed = await uow.inbox.claim(10, later, LEASE)
        await uow.commit()
    assert [(e.id, e.attempts, e.body) for e in claimed] == [(event.id, 1, event.body)]
    assert await _list(backend, organization_id=event.organization_id) == type(
        await _list(backend, organization_id=event.organization_id))([], None)


async def test_a_rolled_back_revive_leaves_the_event_dead(backend):
    event = an_event()
    await _dead(backend, event)
    async with backend.uow() as uow:
        assert await uow.inbox.revive(event.id, T0) is not None
    assert [d.id for d in (await _list(backend, organization_id=event.organization_id)).items
            ] == [event.id]


async def test_oldest_pending_is_none_for_an_empty_backlog_then_the_oldest(backend):
    async with backend.uow() as uow:
        before = await uow.inbox.oldest_pending_at()
    old, new = an_event(at=T0 - timedelta(hours=1)), an_event(at=T0)
    for event in (new, old):
        await backend.inbox_writer.admit(event)
    async with backend.uow() as uow:
        oldest = await uow.inbox.oldest_pending_at()
    assert oldest == old.received_at
    assert before is None or before <= oldest

"""WebhookInbox contract: dedupe on admission, leased claims, retries and parking."""

from __future__ import annotations

import uuid
from datetime import timedelta

import attrs
import pytest

from application.errors import Conflict
from application.ports.inbox import InboxStatus
from tests.storage_builders import T0, an_event, org_id

LEASE = timedelta(seconds=30)


async def _add(backend, *events):
    """Through the one way in: each admission is committed when it returns."""
    return [await backend.inbox_writer.admit(event) for event in events]


async def _claim(backend, now=T0, limit=10, lease=LEASE):
    async with backend.uow() as uow:
        claimed = await uow.inbox.claim(limit, now, lease)
        await uow.commit()
    return claimed


async def test_a_redelivery_stores_nothing_and_names_the_first_event(backend):
    first = an_event(dedupe_key="id:abc")
    again = an_event(first.organization_id, dedupe_key="id:abc")
    elsewhere = an_event(dedupe_key="id:abc")  # same key, other organization: a new event
    admissions = await _add(backend, first, again, elsewhere)
    assert [(a.event_id, a.duplicate) for a in admissions] == [
        (first.id, False), (first.id, True), (elsewhere.id, False)]
    async with backend.uow() as uow:
        assert (await uow.inbox.counts())[InboxStatus.PENDING] == 2


async def test_claim_takes_due_events_oldest_first_and_counts_the_attempt(backend):
    org = org_id()
    events = [an_event(org, at=T0 - timedelta(seconds=s)) for s in (1, 3, 2)]
    await _add(backend, *events, an_event(org, at=T0 + timedelta(seconds=1)))  # not yet due
    claimed = await _claim(backend, limit=2)
    assert [e.id for e in claimed] == [events[1].id, events[2].id]
    assert {(e.status, e.attempts) for e in claimed} == {(InboxStatus.PROCESSING, 1)}
    assert claimed[0] == attrs.evolve(events[1], status=InboxStatus.PROCESSING, attempts=1)


async def test_a_claimed_event_is_not_claimed_again_until_its_lease_ends(backend):
    (event,) = [an_event()]
    await _add(backend, event)
    assert [e.id for e in await _claim(backend)] == [event.id]
    assert await _claim(backend, now=T0 + LEASE - timedelta(microseconds=1)) == []
    again = await _claim(backend, now=T0 + LEASE)
    assert [(e.id, e.attempts) for e in again] == [(event.id, 2)]


async def test_retry_later_releases_the_event_at_the_given_time(backend):
    event = an_event()
    await _add(backend, event)
    await _claim(backend)
    async with backend.uow() as uow:
        await uow.inbox.retry_later(event.id, "timeout", T0 + timedelta(minutes=1))
        await uow.commit()
    assert await _claim(backend, now=T0 + timedelta(seconds=59)) == []
    (again,) = await _claim(backend, now=T0 + timedelta(minutes=1))
    assert (again.id, again.attempts) == (event.id, 2)


async def test_completed_and_parked_events_are_never_claimed_and_are_counted(backend):
    done, dead, waiting = an_event(), an_event(), an_event()
    await _add(backend, done, dead, waiting)
    await _claim(backend)
    async with backend.uow() as uow:
        await uow.inbox.complete(done.id, "applied")
        await uow.inbox.complete(done.id, "applied")  # idempotent
        await uow.inbox.park(dead.id, "unparseable")
        await uow.inbox.retry_later(waiting.id, "busy", T0)
        await uow.commit()
    later = T0 + timedelta(days=1)
    assert [e.id for e in await _claim(backend, now=later)] == [waiting.id]
    async with backend.uow() as uow:
        counts = await uow.inbox.counts()
    assert counts == {InboxStatus.PENDING: 0, InboxStatus.PROCESSING: 1,
                      InboxStatus.DONE: 1, InboxStatus.DEAD: 1}


async def test_a_rolled_back_claim_leaves_the_event_claimable(backend):
    event = an_event()
    await _add(backend, event)
    async with backend.uow() as uow:
        assert len(await uow.inbox.claim(10, T0, LEASE)) == 1
    (claimed,) = await _claim(backend)
    assert claimed.attempts == 1


async def test_a_rolled_back_completion_changes_nothing(backend):
    event = an_event()
    await _add(backend, event)
    await _claim(backend)
    async with backend.uow() as uow:
        await uow.inbox.complete(event.id, "applied")
    (again,) = await _claim(backend, now=T0 + LEASE)  # still open
    assert (again.id, again.attempts) == (event.id, 2)


async def test_purge_deletes_only_processed_events_older_than_the_cutoff(backend):
    old_done = [an_event(at=T0 - timedelta(days=9)) for _ in range(3)]
    recent_done = an_event(at=T0 - timedelta(days=1))
    old_dead, old_waiting = an_event(at=T0 - timedelta(days=9)), an_event(at=T0 - timedelta(days=9))
    await _add(backend, *old_done, recent_done, old_dead, old_waiting)
    await _claim(backend, now=T0)
    async with backend.uow() as uow:
        for event in (*old_done, recent_done):
            await uow.inbox.complete(event.id, "applied")
        await uow.inbox.park(old_dead.id, "unparseable")
        await uow.inbox.retry_later(old_waiting.id, "busy", T0)
        await uow.commit()

    async with backend.uow() as uow:
        assert await uow.inbox.purge(T0 - timedelta(days=7), limit=2) == 2
        assert await uow.inbox.purge(T0 - timedelta(days=7), limit=2) == 1
        assert await uow.inbox.purge(T0 - timedelta(days=7), limit=2) == 0
        await uow.commit()
    async with backend.uow() as uow:
        counts = await uow.inbox.counts()
    assert counts == {InboxStatus.PENDING: 1, InboxStatus.PROCESSING: 0,
                      InboxStatus.DONE: 1, InboxStatus.DEAD: 1}
    # A redelivery of a purged event is a new event again (its effect is idempotent).
    (again,) = await _add(backend, attrs.evolve(old_done[0], id=uuid.uuid4()))
    assert not again.duplicate


async def test_a_rolled_back_purge_keeps_the_events(backend):
    event = an_event(at=T0 - timedelta(days=9))
    await _add(backend, event)
    await _claim(backend, now=T0)
    async with backend.uow() as uow:
        await uow.inbox.complete(event.id, "applied")
        await uow.commit()
    async with backend.uow() as uow:
        assert await uow.inbox.purge(T0, limit=10) == 1
    async with backend.uow() as uow:
        assert (await uow.inbox.counts())[InboxStatus.DONE] == 1
    assert (await backend.inbox_writer.admit(attrs.evolve(event, id=uuid.uuid4()))).duplicate


async def test_reusing_an_event_id_for_another_key_is_a_conflict(backend):
    event = an_event()
    await _add(backend, event)
    with pytest.raises(Conflict):
        await backend.inbox_writer.admit(attrs.evolve(event, dedupe_key="id:other"))


async def test_lifecycle_events_are_claimed_before_an_older_backlog_of_messages(backend):
    org = org_id()
    messages = [attrs.evolve(an_event(org, at=T0 - timedelta(seconds=10 - s)),
                             event="MESSAGES_UPSERT") for s in range(3)]
    qr = attrs.evolve(an_event(org, at=T0), event="QRCODE_UPDATED")
    await _add(backend, *messages, qr)
    claimed = await _claim(backend, now=T0, limit=2)
    assert [e.id for e in claimed] == [qr.id, messages[0].id]

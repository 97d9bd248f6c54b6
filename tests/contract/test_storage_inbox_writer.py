"""InboxWriter contract: committed on return, deduplicated, safe under concurrency."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from application.errors import StorageUnavailable
from application.ports.inbox import InboxStatus
from application.ports.notifier import INBOX_TOPIC
from tests.storage_builders import an_event


async def _pending(backend) -> int:
    async with backend.uow() as uow:
        return (await uow.inbox.counts())[InboxStatus.PENDING]


async def test_an_admitted_event_is_committed_and_claimable(backend):
    event = an_event()
    admission = await backend.inbox_writer.admit(event)
    assert (admission.event_id, admission.duplicate) == (event.id, False)
    async with backend.uow() as uow:
        claimed = await uow.inbox.claim(10, event.received_at, timedelta(seconds=30))
        await uow.commit()
    assert [(e.id, e.body) for e in claimed] == [(event.id, event.body)]


async def test_a_redelivery_is_a_duplicate_naming_the_first_event(backend):
    first = an_event(dedupe_key="id:w-1")
    again = an_event(first.organization_id, dedupe_key="id:w-1")
    await backend.inbox_writer.admit(first)
    admission = await backend.inbox_writer.admit(again)
    assert (admission.event_id, admission.duplicate) == (first.id, True)
    assert await _pending(backend) == 1


async def test_concurrent_admissions_of_one_event_store_it_once(backend):
    copies = [an_event("org-c", dedupe_key="id:same") for _ in range(200)]
    admissions = await asyncio.gather(*(backend.inbox_writer.admit(e) for e in copies))
    winners = [a for a in admissions if not a.duplicate]
    assert len(winners) == 1
    assert {a.event_id for a in admissions} == {winners[0].event_id}
    assert await _pending(backend) == 1


async def test_concurrent_distinct_admissions_are_all_stored(backend):
    events = [an_event("org-d") for _ in range(300)]
    admissions = await asyncio.gather(*(backend.inbox_writer.admit(e) for e in events))
    assert [a.event_id for a in admissions] == [e.id for e in events]
    assert not any(a.duplicate for a in admissions)
    assert await _pending(backend) == 300


async def test_a_new_event_wakes_the_workers_and_a_duplicate_does_not(backend):
    event = an_event()
    async with backend.notifier.subscribe(INBOX_TOPIC) as signals:
        await backend.inbox_writer.admit(event)
        async with asyncio.timeout(2):
            assert await anext(signals) == {}
        await backend.inbox_writer.admit(event)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.3):
                await anext(signals)


@pytest.mark.integration
async def test_the_writer_recovers_after_its_connection_is_cut(postgres_backend):
    """A connection lost between batches fails one batch at most, never all later ones."""
    writer = postgres_backend.inbox_writer
    await writer.admit(an_event())
    await postgres_backend.raw_row("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                   "WHERE datname = current_database() AND pid <> "
                                   "pg_backend_pid() AND query LIKE '%unnest%'")
    outcomes = []
    for _ in range(2):
        try:
            outcomes.append((await writer.admit(an_event())).duplicate)
        except StorageUnavailable:
            outcomes.append("unavailable")
    assert outcomes[-1] is False

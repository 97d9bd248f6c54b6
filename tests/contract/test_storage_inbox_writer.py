"""InboxWriter contract: committed on return, deduplicated, safe under concurrency."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import random
import uuid
from collections.abc import Iterator
from datetime import timedelta
from unittest.mock import ANY
from urllib.parse import urlsplit, urlunsplit

import attrs
import pytest

from adapters.postgres import create_pool
from adapters.postgres.inbox_writer import AsyncpgInboxWriter
from adapters.postgres.pool import close_pool
from application.errors import StorageUnavailable, ValidationFailed
from application.ports.inbox import Admission, InboxEvent, InboxStatus
from application.ports.notifier import INBOX_TOPIC
from tests.contract.conftest import CIPHER
from tests.e2e.tcp_proxy import TcpProxy
from tests.storage_builders import T0, an_event


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


# Text the store cannot keep (API.md section 1): one such row must fail alone, never its batch.
UNSTORABLE = {"nul": "a\x00b", "lone high surrogate": "a\ud83d", "lone low surrogate": "\ude00z",
              "pair left as two code points": "\ud83d\ude00"}
# Each text column of an event, and the field its refusal names.
TEXT_FIELDS = {"organization_id": "organization_id", "instance_name": "instance",
               "event": "event", "dedupe_key": "dedupe_key"}


def _spoilt(column: str, text: str) -> InboxEvent:
    event = an_event(random.choice(["org-good-1", "org-good-2"]))
    return attrs.evolve(event, **{column: getattr(event, column)[:3] + text})


async def _stored_ids(backend) -> set[uuid.UUID]:
    async with backend.uow() as uow:
        claimed = await uow.inbox.claim(10_000, T0 + timedelta(days=1), timedelta(seconds=30))
    return {e.id for e in claimed}


@pytest.mark.parametrize("column", TEXT_FIELDS)
async def test_unstorable_text_fails_only_its_own_row_of_a_concurrent_burst(backend, column):
    good = [an_event(f"org-good-{i % 2 + 1}") for i in range(200)]
    bad = [_spoilt(column, text) for text in UNSTORABLE.values() for _ in range(2)]
    burst = good + bad
    random.Random(column).shuffle(burst)
    outcomes = dict(zip((e.id for e in burst), await asyncio.gather(
        *(backend.inbox_writer.admit(e) for e in burst), return_exceptions=True), strict=True))
    for event in good:
        assert outcomes[event.id] == Admission(event.id, False), outcomes[event.id]
    for event in bad:
        refusal = outcomes[event.id]
        assert isinstance(refusal, ValidationFailed), refusal
        assert list(refusal.errors) == [TEXT_FIELDS[column]]
    assert await _stored_ids(backend) == {e.id for e in good}


@pytest.mark.parametrize("text", UNSTORABLE.values(), ids=UNSTORABLE.keys())
async def test_an_unstorable_event_alone_is_refused_and_the_writer_goes_on(backend, text):
    with pytest.raises(ValidationFailed) as refused:
        await backend.inbox_writer.admit(_spoilt("event", text))
    assert refused.value.errors == {"event": [ANY]}
    event = an_event()
    assert await backend.inbox_writer.admit(event) == Admission(event.id, False)
    assert await _stored_ids(backend) == {event.id}


@contextlib.contextmanager
def _loop_reports() -> Iterator[list[dict]]:
    """What the event loop reports as unhandled (such as a future's exception never
    retrieved) while the block runs."""
    reported: list[dict] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _, context: reported.append(context))
    try:
        yield reported
        gc.collect()
    finally:
        loop.set_exception_handler(None)


async def test_a_cancelled_caller_does_not_cancel_or_lose_its_neighbours(backend):
    with _loop_reports() as reported:
        events = [an_event("org-cancel") for _ in range(60)]
        events += [_spoilt(column, "\x00") for column in TEXT_FIELDS]
        tasks = [asyncio.create_task(backend.inbox_writer.admit(e)) for e in events]
        await asyncio.sleep(0)  # every caller has queued its event and waits
        cancelled = set(range(0, len(tasks), 3))  # the first started the batch's writer
        for i in cancelled:
            tasks[i].cancel()
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        await backend.inbox_writer.admit(an_event())  # the writer outlived the cancellations
        for i, (event, outcome) in enumerate(zip(events, outcomes, strict=True)):
            if i in cancelled and isinstance(outcome, asyncio.CancelledError):
                continue  # (a store that never suspends has answered before the cancel)
            if i < 60:
                assert outcome == Admission(event.id, False), outcome
            else:
                assert isinstance(outcome, ValidationFailed), outcome
        kept = {e.id for i, e in enumerate(events[:60]) if i not in cancelled}
        assert kept <= await _stored_ids(backend)
        del tasks, outcomes
    assert reported == []


@pytest.mark.integration
async def test_a_data_error_the_writer_did_not_foresee_is_split_out_of_its_batch(
        postgres_backend):
    """Postgres may refuse a row for reasons no check before the statement knows: the batch
    is split until the one row is found, and everyone else is stored."""
    await postgres_backend.raw_row("""
        CREATE FUNCTION refuse_marked() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.event = 'REFUSED_BY_SERVER' THEN
                RAISE EXCEPTION 'refused for the test' USING ERRCODE = 'invalid_parameter_value';
            END IF;
            RETURN NEW;
        END $$""")
    await postgres_backend.raw_row("CREATE TRIGGER refuse_marked BEFORE INSERT ON webhook_inbox "
                                   "FOR EACH ROW EXECUTE FUNCTION refuse_marked()")
    good = [an_event(f"org-split-{i % 3}") for i in range(150)]
    good += [an_event(good[0].organization_id, dedupe_key=good[0].dedupe_key)]  # a redelivery
    bad = [attrs.evolve(an_event(), event="REFUSED_BY_SERVER") for _ in range(3)]
    burst = good + bad
    random.Random(7).shuffle(burst)
    outcomes = dict(zip((e.id for e in burst), await asyncio.gather(
        *(postgres_backend.inbox_writer.admit(e) for e in burst), return_exceptions=True),
        strict=True))
    for event in bad:
        assert isinstance(outcomes[event.id], ValidationFailed), outcomes[event.id]
    pair = [outcomes[good[0].id], outcomes[good[-1].id]]
    assert sorted(a.duplicate for a in pair) == [False, True], pair
    winner = next(a.event_id for a in pair if not a.duplicate)
    assert {a.event_id for a in pair} == {winner}
    for event in good[1:-1]:
        assert outcomes[event.id] == Admission(event.id, False), outcomes[event.id]
    assert await _stored_ids(postgres_backend) == {e.id for e in good[1:-1]} | {winner}
    # The statement failed on its own (no transaction left open or aborted on the server).
    stuck = await postgres_backend.raw_row(
        "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() "
        "AND state LIKE 'idle in transaction%'")
    assert stuck is not None
    assert stuck["n"] == 0


class _Gate(TcpProxy):
    """A proxy that can lose every link and then drop each new one at once, counting them: the
    database gone, as a client sees it, and how often the client tried to reach it."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__(host, port)
        self.dropping = False
        self.attempts = 0

    async def lose_everything(self) -> None:
        self.dropping = True
        for writer in list(self._links):
            writer.transport.abort()
        self._links.clear()

    async def _accept(self, reader, writer) -> None:
        self.attempts += 1
        if self.dropping:
            writer.transport.abort()
            return
        await super()._accept(reader, writer)


@pytest.mark.integration
async def test_an_outage_fails_every_waiter_as_unavailable_without_retrying_each(postgres_dsn):
    target = urlsplit(postgres_dsn)
    gate = _Gate(target.hostname or "127.0.0.1", target.port or 5432)
    await gate.start()
    pool = await create_pool(urlunsplit(target._replace(
        netloc=f"{target.username}@127.0.0.1:{gate.port}")), min_size=1, max_size=5)
    writer = AsyncpgInboxWriter(pool, CIPHER)
    try:
        await writer.admit(an_event())
        await gate.lose_everything()
        gate.attempts = 0
        good = [an_event(f"org-outage-{i % 2}") for i in range(100)]
        bad = [_spoilt("dedupe_key", "\ud83d"), _spoilt("event", "\x00")]
        with _loop_reports() as reported:
            tasks = [asyncio.create_task(writer.admit(e)) for e in good + bad]
            await asyncio.sleep(0)
            for task in tasks[1:100:10]:  # callers gone before the failure is known
                task.cancel()
            outcomes = await asyncio.gather(*tasks, return_exceptions=True)
            del tasks
        assert reported == []  # a failure nobody waited for any more is not "never retrieved"
        assert all(isinstance(o, asyncio.CancelledError) for o in outcomes[1:100:10])
        del outcomes[1:100:10]
        assert all(isinstance(o, StorageUnavailable) for o in outcomes[:90]), outcomes[:90]
        assert all(isinstance(o, ValidationFailed) for o in outcomes[90:]), outcomes[90:]
        # One burst, one attempt at most to reach the database again: not one per row.
        assert gate.attempts <= 1
        gate.dropping = False
        event = an_event()
        assert await writer.admit(event) == Admission(event.id, False)
    finally:
        await writer.close()
        await close_pool(pool)
        await gate.close()

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg

from adapters.crypto.cipher import SecretCipher
from adapters.fanout import encode_signal
from adapters.postgres.db import translated
from adapters.postgres.unit_of_work import SIGNAL_CHANNEL
from application.errors import StorageUnavailable, ValidationFailed
from application.ports.inbox import Admission, InboxEvent, InboxWriter, unstorable_fields
from application.ports.notifier import INBOX_TOPIC

# One statement, one round trip, atomic on its own: the rows, and (only if a row was new) the
# workers' wake-up. Postgres folds identical notifications of one transaction into one.
# The columns are ``_to_row``'s, in its order: one array each.
ADMIT = """
WITH new AS (
    INSERT INTO webhook_inbox (id, organization_id, instance_name, event, dedupe_key, body,
        received_at, status, attempts, next_attempt_at)
    SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[],
                         $6::bytea[], $7::timestamptz[], $8::text[], $9::int[],
                         $10::timestamptz[])
    ON CONFLICT (organization_id, dedupe_key) DO NOTHING
    RETURNING id
)
SELECT id, pg_notify($11, $12) FROM new"""
FIRST_IDS = """
SELECT w.organization_id, w.dedupe_key, w.id
FROM webhook_inbox AS w
JOIN unnest($1::text[], $2::text[]) AS wanted(o, k)
  ON w.organization_id = wanted.o AND w.dedupe_key = wanted.k"""
MAX_BATCH = 500


Waiter = tuple[InboxEvent, asyncio.Future[Admission]]


class _RowsRefused(Exception):
    """The statement failed on the data of some row of the batch, not on the database."""


class AsyncpgInboxWriter(InboxWriter):
    """Group commit: deliveries that arrive while a batch is being written go together in the
    next one, so a burst costs a few transactions instead of one each. Every caller still
    waits for its own batch's commit before the webhook is acknowledged.

    Sharing a statement must not mean sharing a fate: a row the database refuses fails alone
    (422 for its caller), while an outage fails the whole batch at once (503 for all)."""

    def __init__(self, pool: asyncpg.Pool, cipher: SecretCipher) -> None:
        self._pool = pool
        self._cipher = cipher
        # Batches are written one at a time, so one connection serves them all: held, not
        # taken from the pool per batch (that alone cost a third of the throughput).
        self._conn: asyncpg.Connection | None = None
        self._pending: list[Waiter] = []
        self._flusher: asyncio.Task[None] | None = None
        self._signal = encode_signal(INBOX_TOPIC, {})

    async def admit(self, event: InboxEvent) -> Admission:
        refused = unstorable_fields(event)
        if refused:
            # Known before any statement: the row never joins a batch it would spoil.
            raise ValidationFailed(refused, "the event cannot be stored")
        admitted: asyncio.Future[Admission] = asyncio.get_running_loop().create_future()
        self._pending.append((event, admitted))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="inbox-group-commit")
        # Shielded: a caller that goes away must not cancel its neighbours' batch (and shield
        # takes the outcome it no longer passes on, so a failure is not logged as unretrieved).
        return await asyncio.shield(admitted)

    async def _flush(self) -> None:
        batch: list[Waiter] = []
        try:
            while self._pending:
                batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
                await self._settle(batch)
        finally:
            # Reached with waiters left only if this task itself was cancelled (shutdown):
            # they are told the store went away rather than left waiting forever.
            stranded, self._pending = [*batch, *self._pending], []
            _fail(stranded, StorageUnavailable("the inbox writer stopped"))

    async def _settle(self, batch: list[Waiter]) -> None:
        """Write the batch; when a row's data is refused, halve the part that holds it until
        that row stands alone. Any other failure ends every part still unwritten with it:
        an unreachable database is not worth one more attempt per row."""
        parts = [batch]
        while parts:
            part = parts.pop()
            try:
                admissions = await self._write([event for event, _ in part])
            except _RowsRefused as exc:
                if len(part) > 1:
                    middle = len(part) // 2
                    parts += [part[middle:], part[:middle]]
                else:
                    _fail(part, ValidationFailed(
                        {"envelope": [f"the store refused the event's data ({exc})"]},
                        "the event cannot be stored"))
                continue
            except Exception as exc:  # every waiter learns of the failure, none hangs
                _fail([*part, *(w for p in parts for w in p)], exc)
                return
            for (_, admitted), admission in zip(part, admissions, strict=True):
                if not admitted.done():
                    admitted.set_result(admission)

    async def _write(self, events: list[InboxEvent]) -> list[Admission]:
        with translated():
            if self._conn is None:
                self._conn = await self._pool.acquire(timeout=5.0)
            conn = self._conn
            try:
                try:
                    rows = await conn.fetch(ADMIT, *self._columns(events), SIGNAL_CHANNEL,
                                            self._signal)
                except (asyncpg.DataError, asyncpg.ProgramLimitExceededError,
                        UnicodeError) as exc:
                    # The statement ran alone and rolled back alone, before or on the server:
                    # the connection is idle and fit for the next one.
                    raise _RowsRefused(getattr(exc, "sqlstate", None) or type(exc).__name__
                                       ) from exc
                new = {row["id"] for row in rows}
                firsts = await self._first_ids(conn, [e for e in events if e.id not in new])
            except _RowsRefused:
                raise
            except BaseException:
                await self._drop()  # a broken or cancelled connection is not reused
                raise
        return [Admission(e.id, False) if e.id in new
                else Admission(firsts.get((e.organization_id, e.dedupe_key), e.id), True)
                for e in events]

    async def close(self) -> None:
        """Give the held connection back (before the pool closes)."""
        if self._flusher is not None:
            await asyncio.gather(self._flusher, return_exceptions=True)
        await self._drop()

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await self._pool.release(conn)

    async def _first_ids(self, conn: Any, repeats: list[InboxEvent]) -> dict[Any, Any]:
        if not repeats:
            return {}
        rows = await conn.fetch(FIRST_IDS, [e.organization_id for e in repeats],
                                [e.dedupe_key for e in repeats])
        return {(row["organization_id"], row["dedupe_key"]): row["id"] for row in rows}

    def _columns(self, events: list[InboxEvent]) -> list[list[Any]]:
        return [list(column) for column in zip(*(_to_row(e, self._cipher) for e in events),
                                                strict=True)]


def _fail(waiters: list[Waiter], exc: Exception) -> None:
    for _, admitted in waiters:
        if not admitted.done():
            admitted.set_exception(exc)


def _to_row(event: InboxEvent, cipher: SecretCipher) -> tuple[Any, ...]:
    # A new event is due at once: next_attempt_at starts at received_at.
    return (event.id, event.organization_id, event.instance_name, event.event,
            event.dedupe_key, cipher.encrypt_bytes(event.body), event.received_at,
            str(event.status), event.attempts, event.received_at)

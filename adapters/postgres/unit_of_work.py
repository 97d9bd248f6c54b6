from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any, Self

import asyncpg
import structlog
from asyncpg.transaction import Transaction

from adapters.crypto.cipher import SecretCipher
from adapters.fanout import encode_signal
from adapters.postgres.audit_log import AsyncpgAuditLog
from adapters.postgres.db import TRANSIENT_ERRORS, Db, translated
from adapters.postgres.flag_repository import AsyncpgFlagRepository
from adapters.postgres.idempotency_repository import AsyncpgIdempotencyRepository
from adapters.postgres.instance_repository import AsyncpgInstanceRepository
from adapters.postgres.message_repository import AsyncpgMessageRepository
from adapters.postgres.organization_repository import AsyncpgOrganizationRepository
from adapters.postgres.webhook_inbox import AsyncpgWebhookInbox
from application.errors import StorageUnavailable
from application.ports.unit_of_work import UnitOfWork

log = structlog.get_logger(__name__)

SIGNAL_CHANNEL = "wachannel_signals"
NOTIFY = "SELECT pg_notify($1, $2)"


class AsyncpgUnitOfWork(UnitOfWork):
    """One pooled connection and one transaction; after ``commit`` a new one begins.

    Signals go out as ``pg_notify`` inside the transaction, so Postgres delivers them to every
    replica's ``AsyncpgNotifier`` at commit and never for a rollback.
    """

    def __init__(self, pool: asyncpg.Pool, cipher: SecretCipher,
                 acquire_timeout: float = 5.0) -> None:
        self._pool = pool
        self._cipher = cipher
        self._acquire_timeout = acquire_timeout
        self._db: Db | None = None
        self._tx: Transaction | None = None
        self._signals: list[str] = []

    async def __aenter__(self) -> Self:
        with translated():
            conn = await self._pool.acquire(timeout=self._acquire_timeout)
        try:
            self._db = Db(conn, self._ensure_transaction)
            self._bind(self._db)
        except BaseException:
            self._db = None
            await self._pool.release(conn)
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._signals.clear()
        db, tx, self._db, self._tx = self._db, self._tx, None, None
        if db is None:
            return
        try:
            if tx is not None:
                await tx.rollback()
        except TRANSIENT_ERRORS as error:  # the server rolls back a lost connection itself
            log.warning("rollback_failed", error=type(error).__name__)
        finally:
            await self._pool.release(db.conn)

    async def commit(self) -> None:
        if self._db is None:
            raise StorageUnavailable("the unit of work is not open")
        signals, self._signals = self._signals, []
        for signal in signals:
            await self._db.execute(NOTIFY, SIGNAL_CHANNEL, signal)
        tx, self._tx = self._tx, None
        if tx is not None:  # nothing touched the database: nothing to commit
            with translated():
                await tx.commit()

    def notify(self, topic: str, payload: Mapping[str, Any]) -> None:
        self._signals.append(encode_signal(topic, payload))

    async def _ensure_transaction(self) -> None:
        # After a commit the next statement opens a new transaction, which is rolled back
        # on exit unless committed again: the same rule as the in-memory store.
        if self._tx is None and self._db is not None:
            with translated():  # a connection lost to the server refuses even to make one
                tx = self._db.conn.transaction()
                await tx.start()
            self._tx = tx

    def _bind(self, db: Db) -> None:
        self.instances = AsyncpgInstanceRepository(db, self._cipher)
        self.organizations = AsyncpgOrganizationRepository(db, self._cipher)
        self.audit = AsyncpgAuditLog(db)
        self.flags = AsyncpgFlagRepository(db)
        self.inbox = AsyncpgWebhookInbox(db, self._cipher)
        self.messages = AsyncpgMessageRepository(db, self._cipher)
        self.idempotency = AsyncpgIdempotencyRepository(db)

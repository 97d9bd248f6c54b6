"""One storage suite, two adapters: ``backend`` is the in-memory store, then Postgres."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import attrs
import pytest

from adapters.crypto.cipher import SecretCipher, generate_key
from adapters.memory import InMemoryNotifier, InMemoryStore, InMemoryUnitOfWork
from adapters.memory.inbox_writer import InMemoryInboxWriter
from adapters.postgres import AsyncpgNotifier, AsyncpgUnitOfWork, create_pool
from adapters.postgres.inbox_writer import AsyncpgInboxWriter
from adapters.postgres.pool import close_pool
from application.ports.inbox import InboxWriter
from application.ports.notifier import Notifier
from application.ports.unit_of_work import UnitOfWork
from tests.postgres_fixture import postgres_dsn, postgres_provider

__all__ = ["postgres_dsn", "postgres_provider"]

CIPHER = SecretCipher(generate_key())


@attrs.frozen
class Backend:
    name: str
    uow: Callable[[], UnitOfWork]
    notifier: Notifier
    inbox_writer: InboxWriter
    # One row of a table as stored, to prove what is at rest; None for the in-memory store.
    raw_row: Callable[..., Awaitable[asyncpg.Record | None]] | None = None


@pytest.fixture(params=["memory", pytest.param("postgres", marks=pytest.mark.integration)])
def backend_kind(request: pytest.FixtureRequest) -> tuple[str, str | None]:
    if request.param == "memory":
        return "memory", None
    return "postgres", request.getfixturevalue("postgres_dsn")


@pytest.fixture
async def backend(backend_kind: tuple[str, str | None]) -> AsyncIterator[Backend]:
    async for built in _backend(*backend_kind):
        yield built


@pytest.fixture
async def postgres_backend(postgres_dsn: str) -> AsyncIterator[Backend]:
    """Postgres alone, for what only a store outside the process can show (data at rest)."""
    async for built in _backend("postgres", postgres_dsn):
        yield built


async def _backend(kind: str, dsn: str | None) -> AsyncIterator[Backend]:
    if dsn is None:
        store, notifier = InMemoryStore(), InMemoryNotifier()
        yield Backend(kind, lambda: InMemoryUnitOfWork(store, notifier), notifier,
                      InMemoryInboxWriter(store, notifier))
        return
    pool = await create_pool(dsn, min_size=1, max_size=5)
    pg_notifier = AsyncpgNotifier(dsn, pool)
    await pg_notifier.start()

    async def raw_row(sql: str, *args: Any) -> asyncpg.Record | None:
        return await pool.fetchrow(sql, *args)

    writer = AsyncpgInboxWriter(pool, CIPHER)
    try:
        yield Backend(kind, lambda: AsyncpgUnitOfWork(pool, CIPHER), pg_notifier, writer,
                      raw_row)
    finally:
        await writer.close()
        await pg_notifier.stop()
        await close_pool(pool)

"""The one place asyncpg errors become application errors."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import asyncpg

from application.errors import Conflict, StorageUnavailable

# Failures of the connection or the server, as opposed to a wrong query: worth a retry.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,  # seen when the server ends the session mid-query
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.DeadlockDetectedError,
    asyncpg.SerializationError,
    asyncpg.QueryCanceledError,
)


class StorageFailure(RuntimeError):
    """A query the database refused for a reason no retry fixes: a bug, reported as such."""


@contextmanager
def translated() -> Iterator[None]:
    try:
        yield
    except asyncpg.UniqueViolationError as exc:
        raise Conflict(f"already exists ({exc.constraint_name})") from exc
    except TRANSIENT_ERRORS as exc:
        raise StorageUnavailable("database unavailable") from exc
    except asyncpg.PostgresError as exc:
        raise StorageFailure(f"database refused the query ({exc.sqlstate})") from exc


class Db:
    """An asyncpg connection whose every call raises only application errors.

    ``before`` runs ahead of each statement that writes or locks: the unit of work uses it to
    open its transaction lazily, so a unit of work pays for BEGIN (and ROLLBACK) only when it
    changes something. The ``read_*`` calls are for plain reads: inside the transaction once
    one is open, on their own before that. Under READ COMMITTED each statement takes its own
    snapshot either way, so a read sees the same rows in or out of the transaction; a unit of
    work that only reads then costs one round trip per read instead of three.
    """

    def __init__(self, conn: asyncpg.Connection,
                 before: Callable[[], Awaitable[None]] | None = None) -> None:
        self.conn = conn
        self._before = before

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        await self._ready()
        return await self.read_rows(sql, *args)

    async def fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        await self._ready()
        return await self.read_row(sql, *args)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        await self._ready()
        return await self.read_value(sql, *args)

    async def execute(self, sql: str, *args: Any) -> str:
        await self._ready()
        with translated():
            return str(await self.conn.execute(sql, *args))

    async def read_rows(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        with translated():
            return list(await self.conn.fetch(sql, *args))

    async def read_row(self, sql: str, *args: Any) -> asyncpg.Record | None:
        with translated():
            return await self.conn.fetchrow(sql, *args)

    async def read_value(self, sql: str, *args: Any) -> Any:
        with translated():
            return await self.conn.fetchval(sql, *args)

    async def _ready(self) -> None:
        if self._before is not None:
            await self._before()

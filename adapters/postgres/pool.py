from __future__ import annotations

import asyncio

import asyncpg
import structlog

from adapters.postgres.db import translated

log = structlog.get_logger(__name__)


async def create_pool(dsn: str, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    """Open the pool; raise ``StorageUnavailable`` when the server cannot be reached."""
    with translated():
        pool = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size,
                                         reset=_keep_session)
    assert pool is not None
    return pool


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Skip asyncpg's RESET ALL on every release: a round trip per unit of work, for session
    state this service never sets (it uses SET LOCAL, and LISTENs on its own connection). A
    transaction left open is rolled back by the unit of work before release."""


async def close_pool(pool: asyncpg.Pool, timeout_s: float = 10.0) -> None:
    """Close gracefully; a connection still held after ``timeout_s`` is cut, never waited on
    forever (a leaked connection must not hang shutdown)."""
    try:
        await asyncio.wait_for(pool.close(), timeout_s)
    except TimeoutError:
        log.warning("pool_close_timed_out", timeout_s=timeout_s)
        pool.terminate()

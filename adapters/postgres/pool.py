from __future__ import annotations

import asyncpg

from adapters.postgres.db import translated


async def create_pool(dsn: str, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    """Open the pool; raise ``StorageUnavailable`` when the server cannot be reached."""
    with translated():
        pool = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size)
    assert pool is not None
    return pool

"""ConnectPageCounts contract: views and outcomes per (flag, variant), summed across replicas."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from adapters.memory.connect_page_counts import InMemoryConnectPageCounts
from adapters.postgres import create_pool
from adapters.postgres.connect_page_counts import AsyncpgConnectPageCounts
from adapters.postgres.pool import close_pool
from application.ports.connect_page import ConnectPageCounts
from domain.connect_page import PageOutcome


@pytest.fixture
async def replicas(backend_kind: tuple[str, str | None]) -> AsyncIterator[list[ConnectPageCounts]]:
    _kind, dsn = backend_kind
    if dsn is None:
        counts = InMemoryConnectPageCounts()
        yield [counts, counts]
        return
    pools = [await create_pool(dsn, 1, 4) for _ in range(2)]
    try:
        yield [AsyncpgConnectPageCounts(p) for p in pools]
    finally:
        for p in pools:
            await close_pool(p)


async def test_counts_are_summed_per_variant_and_outcome(replicas) -> None:
    one, two = replicas
    await asyncio.gather(*(r.add("radical_solution", "unified_qr", PageOutcome.VIEW)
                           for r in (one, two) * 10))
    await one.add("radical_solution", "unified_qr", PageOutcome.CONNECTED)
    await two.add("radical_solution", "guided_steps", PageOutcome.VIEW)
    await two.add("radical_solution", "guided_steps", PageOutcome.TIMEOUT)
    await one.add("another_flag", "unified_qr", PageOutcome.ERROR)
    assert await two.summary("radical_solution") == {
        "unified_qr": {"view": 20, "connected": 1},
        "guided_steps": {"view": 1, "timeout": 1},
    }
    assert await one.summary("nothing_counted") == {}

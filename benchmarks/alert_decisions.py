"""Alert decisions on Postgres: how many a second the shared alert state takes.

Two pools (two replicas' worth, 5 connections each) decide 2,000 observations at once, first
all on one (rule, key), the hot row a run of QR failures locks, then each on its own key (per
instance alerts). Every decision is a transaction that locks its row ``FOR UPDATE``.

Run: ``.venv/bin/python benchmarks/alert_decisions.py`` (Postgres on 127.0.0.1, BENCH_PG_DSN).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from _common import create_database, drop_database, header, table

from adapters.postgres import create_pool, migrate
from adapters.postgres.alert_store import AsyncpgAlertStore
from adapters.postgres.pool import close_pool
from domain.alerts import AlertPolicy, AlertState, Decision, observe

RULE = AlertPolicy().rule("qr_failures")
T0 = datetime(2026, 1, 1, tzinfo=UTC)
N = 2_000


def _step(i: int) -> Callable[[AlertState], Decision]:
    def step(state: AlertState) -> Decision:
        return observe(state, RULE, bad=i % 7 != 0, detail="bench", new_id=str(uuid.uuid4()),
                       at=T0 + timedelta(seconds=i), cooldown_s=300)
    return step


async def main() -> None:
    header("alert_decisions")
    name, dsn = await create_database("bench_alerts")
    try:
        await migrate(dsn)
        pools = [await create_pool(dsn, 1, 5) for _ in range(2)]
        stores = [AsyncpgAlertStore(p) for p in pools]
        rows = []
        for label, key in (("one (rule, key)", lambda i: ""), ("a key each", lambda i: f"k{i}")):
            started = time.perf_counter()
            await asyncio.gather(*(stores[i % 2].decide("qr_failures", key(i), _step(i))
                                   for i in range(N)))
            seconds = time.perf_counter() - started
            rows.append((label, N, f"{seconds:.2f}", f"{N / seconds:.0f}"))
        print(table(("decisions on", "count", "seconds", "per second"), rows))
        for pool in pools:
            await close_pool(pool)
    finally:
        await drop_database(name)


if __name__ == "__main__":
    asyncio.run(main())

"""The inbox's one way in (AsyncpgInboxWriter.admit) vs a bare asyncpg INSERT loop.

One fresh database (migrated, dropped at the end), one process, side by side in the same run
and at the same concurrency (1 and 8 writers by default), each writer on its own connection
from a pool of that size:
  bare:    `await conn.fetchval(INSERT ...)` in autocommit on a connection the writer holds,
            one row of the inbox's columns into `bare_inbox`, a copy of
            `webhook_inbox` (same columns, constraints and indexes);
  bare+pool: the same INSERT through `pool.fetchval` (acquire, insert, release), to show
            what the pool's acquire/release costs on its own;
  writer:  AsyncpgInboxWriter.admit(event), the group-commit path webhook intake uses since
            d9a9737 (concurrent admits share one INSERT ... SELECT unnest statement).
Phases alternate (bare, bare+pool, writer, repeated --rounds times) so drift hits all alike.
Target: the group-commit writer >= 80 % of bare events/s at every concurrency. (Until the
inbox had one way in, an "adapter" phase also measured one event per unit of work: BEGIN and
COMMIT added two round trips to the bare loop's one; docs/performance.md keeps its figures.)

    .venv/bin/python benchmarks/inbox_throughput.py [--seconds 5] [--writers 1,8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import _common as c
import asyncpg

from adapters.crypto.cipher import SecretCipher
from adapters.postgres.inbox_writer import AsyncpgInboxWriter
from adapters.postgres.migrations import migrate
from adapters.postgres.pool import create_pool
from application.ports.inbox import InboxEvent
from entrypoints.logging import configure_logging
from entrypoints.settings import DEV_ENCRYPTION_KEY

BARE_INSERT = """
INSERT INTO bare_inbox (id, organization_id, instance_name, event, dedupe_key, body,
    received_at, status, attempts, next_attempt_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT (organization_id, dedupe_key) DO NOTHING
RETURNING id"""


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=5.0, help="per phase (default 5)")
    p.add_argument("--writers", default="1,8", help="comma-separated concurrency levels")
    p.add_argument("--rounds", type=int, default=3, help="alternations of the phases (3)")
    p.add_argument("--no-json", action="store_true")
    return p.parse_args()


def event(body: bytes) -> InboxEvent:
    key = uuid.uuid4().hex.upper()
    return InboxEvent(uuid.uuid4(), "bench-org", "bench-instance", "MESSAGES_UPSERT",
                      f"msg:bench-instance:MESSAGES_UPSERT:{key}", body, datetime.now(UTC))


def row(e: InboxEvent) -> tuple[Any, ...]:
    """The adapter's INSERT parameters, body as received (the bare loop does no encryption)."""
    return (e.id, e.organization_id, e.instance_name, e.event, e.dedupe_key, e.body,
            e.received_at, "pending", 0, e.received_at)


async def timed(write: Any, writers: int, seconds: float) -> float:
    """Events per second that ``writers`` concurrent loops of ``write(i)`` achieve."""
    count = 0
    deadline = time.perf_counter() + seconds

    async def loop(w: int) -> None:
        nonlocal count
        while time.perf_counter() < deadline:
            await write(w)
            count += 1

    started = time.perf_counter()
    await asyncio.gather(*(loop(w) for w in range(writers)))
    return count / (time.perf_counter() - started)


def phases_for(pool: Any, service_pool: Any, cipher: SecretCipher,
               body: bytes) -> tuple[dict[str, Any], AsyncpgInboxWriter]:
    async def bare(writers: int, seconds: float) -> float:
        held = [await pool.acquire() for _ in range(writers)]  # each writer's own connection
        try:
            async def write(w: int) -> None:
                assert await held[w].fetchval(BARE_INSERT, *row(event(body))) is not None
            return await timed(write, writers, seconds)
        finally:
            for conn in held:
                await pool.release(conn)

    async def bare_pool(writers: int, seconds: float) -> float:
        async def write(w: int) -> None:
            assert await pool.fetchval(BARE_INSERT, *row(event(body))) is not None
        return await timed(write, writers, seconds)

    writer = AsyncpgInboxWriter(service_pool, cipher)

    async def group_commit(writers: int, seconds: float) -> float:
        async def write(w: int) -> None:
            assert not (await writer.admit(event(body))).duplicate
        return await timed(write, writers, seconds)

    phases = {"bare": bare, "bare+pool": bare_pool, "writer": group_commit}
    return phases, writer


async def run(args: argparse.Namespace) -> dict[str, Any]:
    body = json.dumps(c.message_upsert("bench-instance", "A5561E44C2A63682E4295B52")).encode()
    configure_logging("warning")
    cipher = SecretCipher(DEV_ENCRYPTION_KEY)
    name, dsn = await c.create_database("bench_inbox")
    results: dict[str, dict[str, list[float]]] = {}
    try:
        await migrate(dsn)
        setup = await asyncpg.connect(dsn)
        await setup.execute("CREATE TABLE bare_inbox (LIKE webhook_inbox INCLUDING ALL)")
        await setup.close()
        for writers in (int(w) for w in args.writers.split(",")):
            # The adapter gets the service's own pool (adapters.postgres.pool), the bare loops a
            # plain asyncpg one; both hold ``writers`` connections, plus the one the
            # group-commit writer keeps for itself.
            service_pool = await create_pool(dsn, writers, writers + 1)
            async with asyncpg.create_pool(dsn, min_size=writers, max_size=writers) as pool:
                phases, writer = phases_for(pool, service_pool, cipher, body)
                cell = results.setdefault(str(writers), {k: [] for k in phases})
                for phase in phases.values():  # warm-up: prepared statements, caches
                    await phase(writers, 0.5)
                for _ in range(args.rounds):
                    for k, phase in phases.items():
                        cell[k].append(await phase(writers, args.seconds))
                await writer.close()  # it holds a connection of service_pool
            await service_pool.close()
    finally:
        await c.drop_database(name)
    return report(args, results)


def report(args: argparse.Namespace, results: dict[str, Any]) -> dict[str, Any]:
    rows, out, met = [], {}, True
    for writers, cell in results.items():
        mean = {k: sum(v) / len(v) for k, v in cell.items()}
        group = c.ratio(mean["writer"], mean["bare"])
        met = met and group >= 0.8
        out[writers] = {"events_per_s": mean, "runs": cell, "writer_to_bare": group,
                        "writer_to_bare_pool": c.ratio(mean["writer"], mean["bare+pool"])}
        rows.append([writers, mean["bare"], mean["bare+pool"], mean["writer"], group,
                     c.ratio(mean["writer"], mean["bare+pool"])])
    print(c.table(["writers", "bare ev/s", "bare+pool ev/s", "writer ev/s", "writer/bare",
                   "writer/bare+pool"], rows))
    print(f"\ntarget intake's inbox writer >= 80 % of bare: {c.verdict(met)}")
    return {"writers": out, "targets": {"writer_ge_80pct_of_bare": met}, "args": vars(args)}


def main() -> None:
    args = parse_args()
    c.header("inbox_throughput")
    result = asyncio.run(run(args))
    if not args.no_json:
        print("results:", c.write_results("inbox_throughput", result))


if __name__ == "__main__":
    main()

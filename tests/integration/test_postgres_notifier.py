"""LISTEN/NOTIFY across connections: committed signals only, and survival of a dropped link."""

from __future__ import annotations

import asyncio
import socket
import time

import asyncpg
import pytest

from adapters.crypto.cipher import SecretCipher, generate_key
from adapters.postgres import AsyncpgNotifier, AsyncpgUnitOfWork, create_pool
from adapters.postgres.pool import close_pool
from application.errors import StorageUnavailable

pytestmark = pytest.mark.integration


@pytest.fixture
async def pool(postgres_dsn):
    pool = await create_pool(postgres_dsn, max_size=3)
    yield pool
    await close_pool(pool)


@pytest.fixture
async def notifier(postgres_dsn):
    # No pool of its own: the "other replica", on its own connections. The long health interval
    # proves the termination callback alone notices a dropped connection.
    notifier = AsyncpgNotifier(postgres_dsn, health_interval=60)
    await notifier.start()
    yield notifier
    await notifier.stop()


async def _commit_signal(pool, topic, payload, *, commit=True):
    async with AsyncpgUnitOfWork(pool, SecretCipher(generate_key())) as uow:
        uow.notify(topic, payload)
        if commit:
            await uow.commit()


async def test_a_committed_signal_reaches_another_connection_within_a_second(pool, notifier):
    async with notifier.subscribe("instance:42") as signals:
        await _commit_signal(pool, "instance:42", {"state": "rolled back"}, commit=False)
        started = time.monotonic()
        await _commit_signal(pool, "instance:42", {"state": "connected"})
        received = await asyncio.wait_for(anext(signals), 1.0)
        assert time.monotonic() - started < 1.0
    assert received == {"state": "connected"}  # the rolled-back one never arrived first


async def test_a_rolled_back_signal_is_never_delivered(pool, notifier):
    async with notifier.subscribe("flags") as signals:
        await _commit_signal(pool, "flags", {"n": 1}, commit=False)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(anext(signals), 0.5)


async def test_publish_without_a_unit_of_work_is_delivered(notifier):
    async with notifier.subscribe("flags") as signals:
        await notifier.publish("flags", {"killed": "radical_solution"})
        assert await asyncio.wait_for(anext(signals), 1.0) == {"killed": "radical_solution"}


async def test_the_notifier_reconnects_after_its_connection_is_terminated(pool, notifier):
    terminated = await pool.fetchval(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid() "
        "AND query LIKE 'LISTEN%'")
    assert terminated == 1
    async with notifier.subscribe("instance:7") as signals:
        deadline = time.monotonic() + 10
        while notifier.reconnects == 0 or not notifier.listening:
            assert time.monotonic() < deadline, "notifier did not reconnect"
            await asyncio.sleep(0.05)
        await _commit_signal(pool, "instance:7", {"state": "connected"})
        assert await asyncio.wait_for(anext(signals), 1.0) == {"state": "connected"}


async def test_unsubscribing_leaves_no_subscriber_behind(notifier):
    async with notifier.subscribe("instance:9"), notifier.subscribe("instance:9"):
        pass
    await notifier.publish("instance:9", {"n": 1})  # nobody is listening: nothing to queue
    assert notifier._fanout.subscriber_count() == 0


async def test_a_slow_subscriber_keeps_only_the_newest_payloads(postgres_dsn):
    notifier = AsyncpgNotifier(postgres_dsn, maxsize=3)
    await notifier.start()
    try:
        async with notifier.subscribe("t") as signals:
            for n in range(6):
                await notifier.publish("t", {"n": n})
            await asyncio.sleep(0.3)
            got = [await asyncio.wait_for(anext(signals), 1.0) for _ in range(3)]
    finally:
        await notifier.stop()
    assert got == [{"n": 3}, {"n": 4}, {"n": 5}]


async def test_stop_closes_the_listening_connection(postgres_dsn):
    notifier = AsyncpgNotifier(postgres_dsn)
    await notifier.start()
    await notifier.stop()
    conn = await asyncpg.connect(postgres_dsn)
    try:
        listening = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND query LIKE 'LISTEN%' AND state <> 'disconnected'")
    finally:
        await conn.close()
    assert listening == 0


async def test_start_gives_up_when_the_server_cannot_be_reached():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    notifier = AsyncpgNotifier(f"postgresql://postgres@127.0.0.1:{port}/x", start_timeout=0.5)
    with pytest.raises(StorageUnavailable):
        await notifier.start()

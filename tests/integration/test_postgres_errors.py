"""Driver failures reach the application only as application errors."""

from __future__ import annotations

import socket

import asyncpg
import pytest

from adapters.crypto.cipher import SecretCipher, generate_key
from adapters.postgres import AsyncpgUnitOfWork, create_pool
from adapters.postgres.pool import close_pool
from application.errors import Conflict, StorageUnavailable
from tests.storage_builders import an_instance

pytestmark = pytest.mark.integration
CIPHER = SecretCipher(generate_key())


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_an_unreachable_server_is_storage_unavailable():
    with pytest.raises(StorageUnavailable):
        await create_pool(f"postgresql://postgres@127.0.0.1:{_closed_port()}/x", min_size=1)


async def test_an_exhausted_pool_is_storage_unavailable(postgres_dsn):
    pool = await create_pool(postgres_dsn, min_size=1, max_size=1)
    try:
        async with AsyncpgUnitOfWork(pool, CIPHER):
            with pytest.raises(StorageUnavailable):
                async with AsyncpgUnitOfWork(pool, CIPHER, acquire_timeout=0.1):
                    pass
    finally:
        await close_pool(pool)


async def test_a_connection_killed_mid_work_is_storage_unavailable(postgres_dsn):
    pool = await create_pool(postgres_dsn, min_size=1, max_size=2)
    killer = await asyncpg.connect(postgres_dsn)
    try:
        async def work_on_a_killed_connection():
            async with AsyncpgUnitOfWork(pool, CIPHER) as uow:
                pid = await uow.instances._db.conn.fetchval("SELECT pg_backend_pid()")
                await killer.execute("SELECT pg_terminate_backend($1)", pid)
                await uow.instances.add(an_instance())

        with pytest.raises(StorageUnavailable):
            await work_on_a_killed_connection()
        async with AsyncpgUnitOfWork(pool, CIPHER) as uow:  # the pool recovers
            assert await uow.instances.all() == []
    finally:
        await killer.close()
        await close_pool(pool)


async def test_saving_onto_another_instances_name_is_a_conflict(postgres_dsn):
    pool = await create_pool(postgres_dsn, min_size=1, max_size=2)
    first, second = an_instance(), an_instance()
    try:
        async with AsyncpgUnitOfWork(pool, CIPHER) as uow:
            await uow.instances.add(first)
            await uow.instances.add(second)
            second.evolution_name = first.evolution_name
            with pytest.raises(Conflict):
                await uow.instances.save(second)
    finally:
        await close_pool(pool)

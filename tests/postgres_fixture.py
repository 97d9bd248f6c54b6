"""A fresh, migrated Postgres database per test.

The server comes from, in order: ``TEST_DATABASE_URL`` (a server URL we may create databases
on), a testcontainers Postgres if a Docker daemon answers, a throwaway local cluster built with
``initdb``/``pg_ctl``. The schema is migrated once per session into a template database, and
each test gets ``CREATE DATABASE ... TEMPLATE`` (tens of milliseconds instead of a migration).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import attrs
import pytest

from adapters.postgres.migrations import migrate
from tests.postgres_cluster import find_pg_bin, start_local_cluster


@attrs.frozen
class Server:
    url: str
    stop: Callable[[], None]


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=2).ping()
    except Exception:
        return False
    return True


def _container() -> Server:
    from testcontainers.postgres import PostgresContainer

    container = PostgresContainer("postgres:16-alpine", driver=None)
    container.start()
    return Server(with_database(container.get_connection_url(), "postgres"), container.stop)


def start_server() -> Server:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return Server(url, lambda: None)
    if _docker_answers():
        return _container()
    pg_bin = find_pg_bin()
    if pg_bin is not None:
        url, stop = start_local_cluster(pg_bin)
        return Server(url, stop)
    pytest.fail("No Postgres for integration tests: set TEST_DATABASE_URL to a server URL, "
                "start Docker, or install Postgres (initdb/pg_ctl on PATH).")


async def _admin(server: Server, sql: str) -> None:
    conn = await asyncpg.connect(server.url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


class PostgresProvider:
    """One server and one template per session, however many conftests ask for it."""

    def __init__(self) -> None:
        self._users = 0
        self._server: Server | None = None
        self.template = f"wachannel_tmpl_{uuid.uuid4().hex[:12]}"

    @property
    def server(self) -> Server:
        assert self._server is not None, "acquire() first"
        return self._server

    def acquire(self) -> PostgresProvider:
        if self._users == 0:
            self._server = start_server()
            asyncio.run(self._build_template())
        self._users += 1
        return self

    def release(self) -> None:
        self._users -= 1
        if self._users == 0:
            asyncio.run(_admin(self.server, f'DROP DATABASE IF EXISTS "{self.template}"'))
            self.server.stop()
            self._server = None

    async def _build_template(self) -> None:
        await _admin(self.server, f'CREATE DATABASE "{self.template}"')
        await migrate(with_database(self.server.url, self.template))

    async def create_database(self) -> str:
        name = f"wachannel_test_{uuid.uuid4().hex[:12]}"
        await _admin(self.server, f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        return with_database(self.server.url, name)

    async def drop_database(self, dsn: str) -> None:
        name = urlsplit(dsn).path.lstrip("/")
        await _admin(self.server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


PROVIDER = PostgresProvider()


@pytest.fixture(scope="session")
def postgres_provider() -> Iterator[PostgresProvider]:
    yield PROVIDER.acquire()
    PROVIDER.release()


@pytest.fixture
async def postgres_dsn(postgres_provider: PostgresProvider) -> AsyncIterator[str]:
    """The URL of a new database holding the migrated schema, dropped after the test."""
    dsn = await postgres_provider.create_database()
    yield dsn
    await postgres_provider.drop_database(dsn)

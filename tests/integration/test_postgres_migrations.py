"""The migration runner: serialised by an advisory lock, refusing edited files."""

from __future__ import annotations

import asyncio
import shutil
import uuid

import asyncpg
import pytest

from adapters.postgres.migrations import MIGRATIONS_DIR, MigrationError, migrate
from tests.postgres_fixture import with_database

pytestmark = pytest.mark.integration


@pytest.fixture
async def empty_dsn(postgres_provider):
    name = f"wachannel_empty_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(postgres_provider.server.url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    yield with_database(postgres_provider.server.url, name)
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


async def test_two_concurrent_migrations_apply_each_file_once(empty_dsn):
    every = sorted(path.stem for path in MIGRATIONS_DIR.glob("*.sql"))
    assert every[:2] == ["0001_initial", "0002_inbox_retention_index"]
    first, second = await asyncio.gather(migrate(empty_dsn), migrate(empty_dsn))
    assert sorted([first, second]) == [[], every]
    conn = await asyncpg.connect(empty_dsn)
    try:
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == len(every)
        assert await conn.fetchval("SELECT to_regclass('audit_heads') IS NOT NULL")
    finally:
        await conn.close()


async def test_a_migrated_database_has_nothing_pending(postgres_dsn):
    assert await migrate(postgres_dsn) == []


async def test_an_edited_applied_migration_is_refused(empty_dsn, tmp_path):
    migrations = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, migrations)
    await migrate(empty_dsn, migrations)
    with (migrations / "0001_initial.sql").open("a") as sql:
        sql.write("\n-- an innocent-looking edit\n")
    with pytest.raises(MigrationError, match="0001_initial was edited"):
        await migrate(empty_dsn, migrations)


async def test_a_new_file_is_applied_in_its_own_transaction(empty_dsn, tmp_path):
    migrations = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, migrations)
    (migrations / "0002_broken.sql").write_text("CREATE TABLE t2 (x int); SELECT 1/0;")
    with pytest.raises(Exception, match="refused"):
        await migrate(empty_dsn, migrations)
    conn = await asyncpg.connect(empty_dsn)
    try:
        assert await conn.fetchval("SELECT max(version) FROM schema_migrations") == 1
        assert await conn.fetchval("SELECT to_regclass('t2')") is None
    finally:
        await conn.close()

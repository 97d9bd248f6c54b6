"""Forward-only schema migrations: ``migrations/NNNN_name.sql``, each applied once, in order."""

from __future__ import annotations

import hashlib
from pathlib import Path

import asyncpg
import attrs
import structlog

from adapters.postgres.db import Db, translated

log = structlog.get_logger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Any fixed bigint: every replica that starts at once queues on this one advisory lock.
_LOCK_KEY = 0x7761636861_6E6E
_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)"""
_APPLIED = "SELECT version, name, checksum FROM schema_migrations ORDER BY version"
_RECORD = "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)"


class MigrationError(RuntimeError):
    """The migrations on disk disagree with the ones applied: refuse to start."""


@attrs.frozen
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    found = []
    for path in sorted(directory.glob("*.sql")):
        number, _, name = path.stem.partition("_")
        if not number.isdigit() or not name:
            raise MigrationError(f"migration file {path.name} is not named NNNN_name.sql")
        found.append(Migration(int(number), name, path.read_text(encoding="utf-8")))
    return found


async def migrate(target: str | asyncpg.Connection, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply the pending migrations; return their names. Safe to run from many replicas."""
    migrations = load_migrations(directory)
    with translated():
        conn = await asyncpg.connect(target) if isinstance(target, str) else target
    try:
        db = Db(conn)
        await db.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
        try:
            return await _apply_pending(db, migrations)
        finally:
            await db.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    finally:
        if isinstance(target, str):
            await conn.close()


async def _apply_pending(db: Db, migrations: list[Migration]) -> list[str]:
    await db.execute(_CREATE_TABLE)
    applied = {row["version"]: row for row in await db.fetch(_APPLIED)}
    done = []
    for migration in migrations:
        row = applied.get(migration.version)
        if row is not None:
            _check_unchanged(migration, row["checksum"])
            continue
        with translated():
            async with db.conn.transaction():
                await db.conn.execute(migration.sql)
                await db.conn.execute(_RECORD, migration.version, migration.name,
                                      migration.checksum)
        log.info("migration_applied", version=migration.version, name=migration.name)
        done.append(f"{migration.version:04d}_{migration.name}")
    return done


def _check_unchanged(migration: Migration, checksum: str) -> None:
    if checksum != migration.checksum:
        raise MigrationError(
            f"migration {migration.version:04d}_{migration.name} was edited after it was "
            "applied (checksum differs); add a new migration instead"
        )

"""A row a superuser edits past the trigger is still caught by `wachannel audit verify`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from adapters.crypto.cipher import SecretCipher
from adapters.postgres import AsyncpgUnitOfWork, create_pool
from adapters.postgres.pool import close_pool
from entrypoints.settings import DEV_ENCRYPTION_KEY
from tests.storage_builders import a_draft, org_id

pytestmark = pytest.mark.integration
WACHANNEL = Path(sys.executable).with_name("wachannel")


def verify(dsn: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", ""), "DATABASE_URL": dsn, "LOG_LEVEL": "error"}
    return subprocess.run([str(WACHANNEL), "audit", "verify"],  # noqa: S603 (our own script)
                          capture_output=True, text=True, timeout=60, env=env, check=False)


async def test_a_superuser_edit_is_reported_by_audit_verify(postgres_dsn: str) -> None:
    org = org_id()
    pool = await create_pool(postgres_dsn, max_size=2)
    try:
        async with AsyncpgUnitOfWork(pool, SecretCipher(DEV_ENCRYPTION_KEY)) as uow:
            events = [await uow.audit.append(a_draft(org, n=n)) for n in range(3)]
            await uow.commit()
    finally:
        await close_pool(pool)
    before = verify(postgres_dsn)
    assert before.returncode == 0, before.stderr
    assert json.loads(before.stdout)["valid"] is True

    conn = await asyncpg.connect(postgres_dsn)
    try:  # what only a superuser can do: step around the append-only trigger
        async with conn.transaction():
            await conn.execute("SET LOCAL session_replication_role = replica")
            await conn.execute("UPDATE audit_events SET actor_id = 'someone-else' WHERE id = $1",
                               events[1].id)
    finally:
        await conn.close()

    after = verify(postgres_dsn)
    verdict = json.loads(after.stdout)
    assert after.returncode == 1
    assert verdict["valid"] is False
    assert verdict["first_invalid_id"] == str(events[1].id)

"""The `wachannel` command line (API.md section 12), run as operators run it: a subprocess."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import jwt
import pytest

from entrypoints.settings import DEV_JWT_SECRET
from tests import postgres_fixture

WACHANNEL = Path(sys.executable).with_name("wachannel")


def wachannel(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The installed console script with a clean environment: the embedded default."""
    return subprocess.run(  # noqa: S603 (our own console script)
        [str(WACHANNEL), *args], capture_output=True, text=True, timeout=60,
        env={"PATH": os.environ.get("PATH", ""), **env}, check=False)


def test_help_lists_every_command() -> None:
    done = wachannel("--help")
    assert done.returncode == 0, done.stderr
    for command in ("serve", "worker", "migrate", "token", "flags", "audit", "keygen"):
        assert command in done.stdout
    token_help = wachannel("token", "--help")
    assert token_help.returncode == 0
    assert "--role" in token_help.stdout


def test_no_command_is_a_usage_error() -> None:
    done = wachannel()
    assert done.returncode == 2
    assert "usage:" in done.stderr


def test_token_for_admin_verifies_with_the_development_secret() -> None:
    started = int(time.time())
    done = wachannel("token", "--role", "admin")
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    assert "\n" not in token
    claims = jwt.decode(token, DEV_JWT_SECRET, algorithms=["HS256"])
    assert claims["role"] == "admin"
    assert claims["sub"] == "operator"
    assert started + 3600 - 5 <= claims["exp"] <= int(time.time()) + 3600 + 5
    assert "org" not in claims


def test_token_for_tenant_admin_carries_org_sub_and_ttl() -> None:
    done = wachannel("token", "--role", "tenant_admin", "--org", "clinic-42", "--sub", "ana",
                     "--ttl", "60")
    assert done.returncode == 0, done.stderr
    claims = jwt.decode(done.stdout.strip(), DEV_JWT_SECRET, algorithms=["HS256"])
    assert (claims["role"], claims["org"], claims["sub"]) == ("tenant_admin", "clinic-42", "ana")
    assert claims["exp"] <= int(time.time()) + 60


def test_token_is_signed_with_the_configured_secret() -> None:
    secret = "a-configured-secret-of-32-characters!!"
    done = wachannel("token", "--role", "system", AUTH_JWT_SECRET=secret)
    assert done.returncode == 0, done.stderr
    assert jwt.decode(done.stdout.strip(), secret, algorithms=["HS256"])["role"] == "system"


def test_token_for_tenant_admin_without_org_exits_2_with_a_message() -> None:
    done = wachannel("token", "--role", "tenant_admin")
    assert done.returncode == 2
    assert done.stdout == ""
    assert "--org" in done.stderr
    assert "Traceback" not in done.stderr


def test_token_with_an_unknown_role_is_a_usage_error() -> None:
    done = wachannel("token", "--role", "root")
    assert done.returncode == 2
    assert "invalid choice" in done.stderr


def test_keygen_prints_a_fresh_urlsafe_32_byte_key() -> None:
    first, second = wachannel("keygen"), wachannel("keygen")
    assert first.returncode == second.returncode == 0
    key = first.stdout.strip()
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}=", key), key
    assert len(base64.urlsafe_b64decode(key)) == 32
    assert key != second.stdout.strip()


def test_flags_list_on_the_embedded_default_prints_json_with_radical_solution() -> None:
    done = wachannel("flags", "list")
    assert done.returncode == 0, done.stderr
    listed = json.loads(done.stdout)
    text = json.dumps(listed)
    assert "radical_solution" in text


def test_audit_verify_on_the_embedded_default_is_valid() -> None:
    done = wachannel("audit", "verify")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["valid"] is True


def test_migrate_without_database_url_exits_2() -> None:
    done = wachannel("migrate")
    assert done.returncode == 2
    assert "DATABASE_URL" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_configuration_error_is_one_line_and_exit_2() -> None:
    done = wachannel("token", "--role", "admin", PORT="eighty")
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("wachannel: configuration error: PORT:"), line


# Against a real, empty Postgres database ----------------------------------------------------

@pytest.fixture
def empty_database() -> Iterator[str]:
    """A new database with no schema at all (the shared fixture's are already migrated)."""
    provider = postgres_fixture.PROVIDER.acquire()
    name = f"wachannel_cli_{uuid.uuid4().hex[:12]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(provider.server.url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield postgres_fixture.with_database(provider.server.url, name)
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        provider.release()


@pytest.mark.integration
def test_migrate_applies_every_migration_once(empty_database: str) -> None:
    first = wachannel("migrate", DATABASE_URL=empty_database)
    assert first.returncode == 0, first.stderr
    applied = json.loads(first.stdout.strip().splitlines()[-1])["applied"]
    assert applied, "a fresh database needs every migration"

    async def tables() -> set[str]:
        conn = await asyncpg.connect(empty_database)
        try:
            rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        finally:
            await conn.close()
        return {r["tablename"] for r in rows}

    assert {"instances", "organizations"} <= asyncio.run(tables())
    again = wachannel("migrate", DATABASE_URL=empty_database)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout.strip().splitlines()[-1]) == {"applied": []}

"""The `wachannel` command line (API.md section 12), run as operators run it: a subprocess."""

from __future__ import annotations

import argparse
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

from entrypoints.cli import build_parser
from entrypoints.settings import DEV_JWT_SECRET
from tests import postgres_fixture

WACHANNEL = Path(sys.executable).with_name("wachannel")


def wachannel(*args: str, timeout: str = "60", **env: str) -> subprocess.CompletedProcess[str]:
    """The installed console script with a clean environment: the embedded default."""
    return subprocess.run(  # noqa: S603 (our own console script)
        [str(WACHANNEL), *args], capture_output=True, text=True, timeout=float(timeout),
        env={"PATH": os.environ.get("PATH", ""), **env}, check=False)


def test_help_lists_every_command() -> None:
    done = wachannel("--help")
    assert done.returncode == 0, done.stderr
    for command in ("serve", "worker", "migrate", "token", "flags", "audit", "keygen"):
        assert command in done.stdout
    token_help = wachannel("token", "--help")
    assert token_help.returncode == 0
    assert "--role" in token_help.stdout


def test_serve_help_describes_every_option_with_its_default() -> None:
    done = wachannel("serve", "--help")
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split("options:", 1)[-1].split())
    described = {option: re.search(rf"{option}(?: [A-Z]+)? (.+?)(?= --|$)", text)
                 for option in ("--host", "--port", "--no-migrate")}
    assert all(described.values()), text
    host, port, no_migrate = (m[1] for m in described.values() if m)
    assert "127.0.0.1" in host
    assert "default" in host
    assert "8080" in port
    assert "default" in port
    assert "migration" in no_migrate


def _options(parser: argparse.ArgumentParser) -> Iterator[tuple[str, argparse.Action]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from ((f"{name} {where}", a) for where, a in _options(sub))
        elif not isinstance(action, argparse._HelpAction):
            yield parser.prog, action


def test_every_command_and_option_has_a_help_text_naming_its_default() -> None:
    commands = next(a for a in build_parser()._actions
                    if isinstance(a, argparse._SubParsersAction))
    assert all(c.help for c in commands._choices_actions), "a command without a description"
    for where, action in _options(build_parser()):
        assert action.help, f"{where} {action.dest} has no help"
        takes_value = action.nargs != 0 and not action.required and not action.choices
        if takes_value and (action.option_strings or action.nargs == "?"):
            assert "default" in action.help, f"{where} {action.dest}: {action.help!r}"


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


@pytest.mark.parametrize("org", ["../A", "", "clinic 42", "clinic-42\n", "x" * 65,
                                 "clinic\u0661", "cl\u00ednica"])
@pytest.mark.parametrize("role", ["tenant_admin", "admin"])
def test_token_refuses_an_organization_id_outside_the_contract(role: str, org: str) -> None:
    done = wachannel("token", "--role", role, "--org", org)
    assert done.returncode == 2
    assert done.stdout == ""
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("wachannel: "), line
    assert "--org" in line


def test_token_accepts_an_organization_id_of_64_characters() -> None:
    org = "A-z_9" * 12 + "abcd"
    done = wachannel("token", "--role", "tenant_admin", "--org", org)
    assert done.returncode == 0, done.stderr
    assert jwt.decode(done.stdout.strip(), DEV_JWT_SECRET, algorithms=["HS256"])["org"] == org


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


@pytest.mark.parametrize("command", [["flags", "list"], ["flags", "kill", "radical_solution"],
                                     ["audit", "verify"]])
def test_a_command_that_reads_the_store_refuses_to_run_without_a_database(
        command: list[str]) -> None:
    done = wachannel(*command)
    assert done.returncode == 2
    assert done.stdout == ""
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("wachannel: "), line
    assert "DATABASE_URL" in line


def test_worker_without_a_database_refuses_at_once_instead_of_running_for_ever() -> None:
    started = time.monotonic()
    done = wachannel("worker", timeout="20")
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert "DATABASE_URL" in line, line
    assert time.monotonic() - started < 15


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


@pytest.mark.integration
def test_flags_list_and_audit_verify_answer_about_the_configured_database(
        empty_database: str) -> None:
    assert wachannel("migrate", DATABASE_URL=empty_database).returncode == 0
    flags = wachannel("flags", "list", DATABASE_URL=empty_database, LOG_LEVEL="error")
    assert flags.returncode == 0, flags.stderr
    assert "radical_solution" in json.dumps(json.loads(flags.stdout))
    audit = wachannel("audit", "verify", DATABASE_URL=empty_database, LOG_LEVEL="error")
    assert audit.returncode == 0, audit.stderr
    assert json.loads(audit.stdout)["valid"] is True

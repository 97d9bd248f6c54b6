"""`wachannel connect-link` with DATABASE_URL: it reads the instance from the store itself and
prints a link the running service's page accepts; an unknown instance is one line, exit 1."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest

from tests.api.conftest import Service, free_port, service_env, start_service
from tests.e2e.processes import WACHANNEL, base_env
from tests.e2e.support import REPO
from tests.postgres_fixture import postgres_dsn, postgres_provider

__all__ = ["postgres_dsn", "postgres_provider"]

pytestmark = pytest.mark.integration


@pytest.fixture
async def pg_service(postgres_dsn: str) -> AsyncIterator[Service]:
    async for running in start_service(service_env(free_port(), DATABASE_URL=postgres_dsn)):
        yield running


async def connect_link(env: dict[str, str], instance_id: str) -> tuple[int, str, str]:
    cli = await asyncio.create_subprocess_exec(
        str(WACHANNEL), "connect-link", instance_id, env=env, cwd=str(REPO),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(cli.communicate(), 30)
    assert cli.returncode is not None
    return cli.returncode, out.decode().strip(), err.decode().strip()


async def test_the_command_prints_a_link_the_page_accepts(pg_service: Service,
                                                          postgres_dsn: str) -> None:
    instance_id = (await pg_service.quick_create())["instance"]["id"]
    env = base_env(DATABASE_URL=postgres_dsn, PUBLIC_BASE_URL=pg_service.base_url)
    code, url, err = await connect_link(env, instance_id)
    assert code == 0, err
    parts = urlsplit(url)
    assert url.startswith(f"{pg_service.base_url}/connect/{instance_id}?t=")
    page = await pg_service.client.get(f"{parts.path}?{parts.query}")
    assert page.status == 200
    assert 'id="qr"' in await page.text()


async def test_an_unknown_instance_is_one_line_and_exit_1(pg_service: Service,
                                                          postgres_dsn: str) -> None:
    env = base_env(DATABASE_URL=postgres_dsn)
    code, url, err = await connect_link(env, str(uuid.uuid4()))
    assert code == 1
    assert url == ""
    assert len(err.splitlines()) == 1
    assert "not found" in err

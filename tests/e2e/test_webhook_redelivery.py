"""Evolution's own retry policy (fake server, time_scale 0.02: first retry after 0.1 s) carries a
webhook over an outage of the service, and the message is stored exactly once.

Two outages: the database is gone (the service answers 503 with Retry-After, which Evolution
retries), and the service itself is down (connection refused, which Evolution retries too).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import asyncpg
import attrs
import pytest

from tests.e2e.conftest import Evolution, service_env
from tests.e2e.support import admin_token, bounded, eventually, message_data, quick_create
from tests.e2e.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

ORG = "clinic-redelivery"
TIME_SCALE = 0.02


@attrs.define
class Attempt:
    key: str | None
    status: int | None  # None: a network error


class RecordingDeliveries:
    """Wraps the fake server's webhook deliverer: every attempt and its outcome, in order."""

    def __init__(self, deliver: Callable[[str, dict[str, str], bytes], Awaitable[int]]) -> None:
        self._deliver = deliver
        self.attempts: list[Attempt] = []

    async def __call__(self, url: str, headers: dict[str, str], body: bytes) -> int:
        key = _message_key(body)
        try:
            status = await self._deliver(url, headers, body)
        except Exception:
            self.attempts.append(Attempt(key, None))
            raise
        self.attempts.append(Attempt(key, status))
        return status

    def of(self, key: str) -> list[int | None]:
        return [a.status for a in self.attempts if a.key == key]


def _message_key(body: bytes) -> str | None:
    envelope = json.loads(body)
    data = envelope.get("data")
    if envelope.get("event") == "messages.upsert" and isinstance(data, dict):
        return str(data["key"]["id"])
    return None


@pytest.fixture
async def proxy(postgres_dsn: str) -> AsyncIterator[TcpProxy]:
    target = urlsplit(postgres_dsn)
    tcp = TcpProxy(target.hostname or "127.0.0.1", target.port or 5432)
    await tcp.start()
    try:
        yield tcp
    finally:
        await tcp.close()


def through(dsn: str, proxy: TcpProxy) -> str:
    parts = urlsplit(dsn)
    credentials = parts.netloc.rpartition("@")[0]
    netloc = f"{credentials}@127.0.0.1:{proxy.port}" if credentials else f"127.0.0.1:{proxy.port}"
    return urlunsplit(parts._replace(netloc=netloc))


async def started_evolution(evolution_factory) -> tuple[Evolution, RecordingDeliveries]:
    evolution: Evolution = await evolution_factory(time_scale=TIME_SCALE)
    recorder = RecordingDeliveries(evolution.server.sim.webhooks.deliver)
    evolution.server.sim.webhooks.deliver = recorder
    return evolution, recorder


async def message_count(dsn: str, key: str) -> tuple[int, int]:
    conn = await asyncpg.connect(dsn)
    try:
        stored = await conn.fetchval("SELECT count(*) FROM messages WHERE message_id = $1", key)
        inbox = await conn.fetchval(
            "SELECT count(*) FROM webhook_inbox WHERE dedupe_key LIKE '%' || $1", f":{key}")
        return int(stored), int(inbox)
    finally:
        await conn.close()


@bounded(30)
async def test_webhook_answered_503_while_storage_is_down_is_retried_and_stored_once(
        postgres_dsn: str, proxy: TcpProxy, evolution_factory, service_factory,
        http: aiohttp.ClientSession, port: int) -> None:
    evolution, deliveries = await started_evolution(evolution_factory)
    service = await service_factory(
        service_env(port, evolution, DATABASE_URL=through(postgres_dsn, proxy)), run_worker=True)
    created = await quick_create(http, service.base_url, admin_token(), ORG)
    name = created["instance"]["evolution_name"]
    key = f"E2E{uuid.uuid4().hex.upper()}"

    await proxy.cut()
    evolution.server.emit(name, "MESSAGES_UPSERT", message_data(key))
    await eventually(_async(lambda: deliveries.of(key).count(503) >= 2), 5,
                     "two deliveries answered 503 while the database is away")
    await proxy.restore()
    await eventually(_async(lambda: 200 in deliveries.of(key)), 10, "a delivery answered 200")
    await eventually(lambda: _stored(postgres_dsn, key), 10, "the message is stored")

    attempts = deliveries.of(key)
    print(f"Evolution's attempts for the message: {attempts}")
    assert attempts[-1] == 200
    assert attempts.count(200) == 1
    assert set(attempts[:-1]) == {503}
    assert await message_count(postgres_dsn, key) == (1, 1)


@bounded(30)
async def test_webhook_sent_while_service_is_down_is_retried_after_restart_and_stored_once(
        postgres_dsn: str, evolution_factory, service_factory,
        http: aiohttp.ClientSession, port: int) -> None:
    evolution, deliveries = await started_evolution(evolution_factory)
    env = service_env(port, evolution, DATABASE_URL=postgres_dsn)
    service = await service_factory(env, run_worker=True)
    created = await quick_create(http, service.base_url, admin_token(), ORG)
    name = created["instance"]["evolution_name"]
    key = f"E2E{uuid.uuid4().hex.upper()}"

    await service.stop()
    evolution.server.emit(name, "MESSAGES_UPSERT", message_data(key))
    await eventually(_async(lambda: deliveries.of(key).count(None) >= 2), 5,
                     "two deliveries refused while the service is down")
    await service_factory(env, run_worker=True)  # the same port, a new process's worth of state
    await eventually(_async(lambda: 200 in deliveries.of(key)), 10, "a delivery answered 200")
    await eventually(lambda: _stored(postgres_dsn, key), 10, "the message is stored")

    attempts = deliveries.of(key)
    print(f"Evolution's attempts for the message: {attempts}")
    assert attempts[-1] == 200
    assert attempts.count(200) == 1
    assert set(attempts[:-1]) == {None}
    assert await message_count(postgres_dsn, key) == (1, 1)


async def _stored(dsn: str, key: str) -> bool:
    return (await message_count(dsn, key))[0] >= 1


def _async(check: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    async def run() -> bool:
        return check()

    return run

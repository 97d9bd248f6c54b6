"""The fake Evolution server's wire behaviour: guards, envelopes and fixed waits."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.fakes.evolution_server import FakeEvolutionServer, start_fake_evolution

KEY = "fake-evolution-key"
NAME = "acme-sales-01"


@pytest.fixture
async def evo() -> AsyncIterator[tuple[aiohttp.ClientSession, FakeEvolutionServer]]:
    runner, base_url, server = await start_fake_evolution(time_scale=0.05)
    async with aiohttp.ClientSession(base_url) as session:
        yield session, server
    await runner.cleanup()


async def call(session: aiohttp.ClientSession, method: str, path: str, key: str | None = KEY,
               **kw: Any) -> tuple[int, Any]:
    headers = {"apikey": key} if key else {}
    headers.update(kw.pop("headers", {}))
    async with session.request(method, path, headers=headers, **kw) as response:
        return response.status, await response.json()


async def create(session: aiohttp.ClientSession, **extra: Any) -> tuple[int, Any]:
    body = {"instanceName": NAME, "integration": "WHATSAPP-BAILEYS", "token": "TOK", **extra}
    return await call(session, "POST", "/instance/create", json=body)


async def test_guard_order_is_404_then_403_then_401(evo: Any) -> None:
    session, _ = evo
    status, body = await call(session, "GET", f"/instance/connectionState/{NAME}", key="bad")
    assert (status, body["response"]["message"]) == (
        404, [f'The "{NAME}" instance does not exist'])
    assert (await create(session))[0] == 201
    status, body = await call(session, "POST", "/instance/create", key="bad",
                              json={"instanceName": NAME})
    assert (status, body["error"]) == (403, "Forbidden")
    status, body = await call(session, "GET", f"/instance/connectionState/{NAME}", key="bad")
    assert (status, body) == (401, {"status": 401, "error": "Unauthorized",
                                    "response": {"message": "Unauthorized"}})


async def test_create_with_qrcode_holds_the_answer_and_includes_the_qr(evo: Any) -> None:
    session, _ = evo
    started = time.monotonic()
    status, body = await create(session, qrcode=True)
    assert time.monotonic() - started >= 5 * 0.05
    assert status == 201
    assert list(body) == ["instance", "hash", "webhook", "websocket", "rabbitmq", "nats", "sqs",
                          "settings", "qrcode"]
    assert (body["hash"], body["instance"]["status"], body["qrcode"]["count"]) == (
        "TOK", "connecting", 1)


async def test_instance_token_filters_fetch_instances(evo: Any) -> None:
    session, _ = evo
    await create(session)
    status, rows = await call(session, "GET", "/instance/fetchInstances", key="TOK")
    assert (status, [r["name"] for r in rows]) == (200, [NAME])
    assert (await call(session, "GET", "/instance/fetchInstances", key="OTHER"))[0] == 401
    status, body = await call(session, "GET", "/instance/fetchInstances",
                              params={"instanceName": "nope"})
    assert (status, body["response"]["message"]) == (404, ['Instance "nope" not found'])


async def test_webhook_set_validates_like_evolution(evo: Any) -> None:
    session, _ = evo
    await create(session)
    path = f"/webhook/set/{NAME}"
    status, body = await call(session, "POST", path, json={"url": "https://x", "enabled": True})
    assert (status, body["response"]["message"]) == (
        400, ['instance requires property "webhook"'])
    bad = {"webhook": {"enabled": True, "url": "https://x", "events": ["QRCODE_UPDATED", "X"]}}
    status, body = await call(session, "POST", path, json=bad)
    assert status == 400
    assert body["response"]["message"][0].startswith("webhook.events[1] is not one of enum")
    status, _ = await call(session, "POST", path,
                           json={"webhook": {"enabled": True, "url": "https://x"}})
    assert status == 500
    assert await call(session, "GET", f"/webhook/find/{NAME}") == (200, None)
    status, row = await call(session, "POST", path, json={"webhook": {
        "enabled": True, "url": "https://x", "byEvents": True, "events": []}})
    assert (status, row["webhookByEvents"], len(row["events"])) == (201, True, 31)


async def test_malformed_json_and_unknown_routes_answer_like_express(evo: Any) -> None:
    session, _ = evo
    status, body = await call(session, "POST", "/instance/create", data=b"{nope",
                              headers={"Content-Type": "application/json"})
    assert (status, body["error"]) == (400, "Internal Server Error")
    assert await call(session, "GET", "/foo") == (
        404, {"status": 404, "error": "Not Found", "response": {"message": ["Cannot GET /foo"]}})


async def test_root_needs_no_key_and_down_answers_503(evo: Any) -> None:
    session, server = evo
    status, body = await call(session, "GET", "/", key=None)
    assert (status, body["version"]) == (200, "2.3.6")
    server.down = True
    assert (await call(session, "GET", "/"))[0] == 503
    assert server.requests["info"] == 2

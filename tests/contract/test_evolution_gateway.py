"""One suite over the in-process fake and the HTTP gateway against the fake Evolution server,
so that the fake the unit tests rely on cannot drift from the real adapter."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import attrs
import jwt
import pytest

from adapters.evolution.config import EvolutionHttpConfig
from adapters.evolution.delivery import aiohttp_deliverer
from adapters.evolution.fake_gateway import FakeEvolutionGateway
from adapters.evolution.gateway import EvolutionApiGateway
from adapters.evolution.http_transport import HttpTransport
from adapters.evolution.observer import NullObserver
from adapters.system.clock import SystemClock
from application.errors import Conflict, NotFound, UpstreamError
from application.ports.evolution import (
    ConnectResult,
    ConnectStatus,
    CreateInstanceRequest,
    EvolutionGateway,
    InstanceRef,
    WebhookRegistration,
)
from tests.fakes.evolution_server import WebhookSink, start_fake_evolution

JWT_KEY = "org-webhook-secret-0123456789abcdef0123"
EVENTS = ("QRCODE_UPDATED", "CONNECTION_UPDATE", "STATUS_INSTANCE", "LOGOUT_INSTANCE",
          "REMOVE_INSTANCE", "MESSAGES_UPSERT", "MESSAGES_UPDATE", "SEND_MESSAGE")
# Scaled 100x down: the first QR after 0.2 s, Evolution's 2 s connect hold 0.02 s.
TIMINGS = {"time_scale": 0.01, "first_qr_s": 20.0}


@attrs.frozen
class Evolution:
    gateway: EvolutionGateway
    scan: Callable[[str], None]
    wait_deliveries: Callable[[], Any]
    requests: Counter[str]
    sink: WebhookSink
    hook_url: str


@pytest.fixture(params=["fake", "http"])
async def evolution(request: pytest.FixtureRequest, aiohttp_server: Any
                    ) -> AsyncIterator[Evolution]:
    sink = WebhookSink()
    hook_url = str((await aiohttp_server(sink.app())).make_url("/api/webhooks/evolution/c42"))
    async with aiohttp.ClientSession() as session:
        if request.param == "fake":
            fake = FakeEvolutionGateway(aiohttp_deliverer(session), **TIMINGS)
            yield Evolution(fake, fake.scan, fake.wait_deliveries, fake.calls, sink, hook_url)
            await fake.close()
            return
        runner, base_url, server = await start_fake_evolution(**TIMINGS)
        config = EvolutionHttpConfig(base_url, server.api_key)
        gateway = EvolutionApiGateway(HttpTransport(
            session, config, observer=NullObserver(), clock=SystemClock()), config.api_key)
        yield Evolution(gateway, server.scan, server.wait_deliveries, server.requests, sink,
                        hook_url)
        await runner.cleanup()


def new_instance(url: str, name: str = "clinic-42-3f9a1c2b", number: str | None = None
                 ) -> CreateInstanceRequest:
    hook = WebhookRegistration(url, {"jwt_key": JWT_KEY, "x-trace": "t1"}, EVENTS)
    return CreateInstanceRequest(name, f"TOKEN-{name}", hook, number)


async def create(evo: Evolution, **kw: Any) -> InstanceRef:
    created = await evo.gateway.create_instance(new_instance(evo.hook_url, **kw))
    return InstanceRef(created.name, created.token)


async def until_qr(evo: Evolution, ref: InstanceRef) -> ConnectResult:
    # Polling /connect is how a client gets a QR from Evolution: there is nothing to await.
    async with asyncio.timeout(3):
        while (result := await evo.gateway.connect(ref)).status is not ConnectStatus.QR:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    return result


async def test_create_returns_id_and_token_and_leaves_it_closed(evolution: Evolution) -> None:
    await evolution.gateway.check()
    request = new_instance(evolution.hook_url)
    created = await evolution.gateway.create_instance(request)
    assert (created.name, created.token) == (request.name, request.token)
    assert len(created.evolution_id) == 36
    ref = InstanceRef(created.name, created.token)
    assert await evolution.gateway.connection_state(ref) == "close"
    [remote] = await evolution.gateway.fetch_instances()
    assert (remote.name, remote.evolution_id, remote.token, remote.connection_status) == (
        created.name, created.evolution_id, created.token, "close")


async def test_duplicate_create_is_conflict(evolution: Evolution) -> None:
    await create(evolution)
    with pytest.raises(Conflict, match="already in use"):
        await create(evolution)
    assert evolution.requests["instance_create"] == 2


async def test_connect_is_pending_then_qr_then_open_after_scan(evolution: Evolution) -> None:
    ref = await create(evolution)
    assert (await evolution.gateway.connect(ref)).status is ConnectStatus.PENDING
    assert await evolution.gateway.connection_state(ref) == "connecting"
    first = await until_qr(evolution, ref)
    assert first.qr is not None
    assert first.qr.code.startswith("2@")
    assert first.qr.base64.startswith("data:image/png;base64,")
    assert first.qr.pairing_code is None
    assert (await evolution.gateway.connect(ref)).qr == first.qr  # same QR until it refreshes
    evolution.scan(ref.name)
    assert await evolution.gateway.connect(ref) == ConnectResult(ConnectStatus.OPEN)
    assert await evolution.gateway.connection_state(ref) == "open"
    [remote] = await evolution.gateway.fetch_instances()
    assert remote.owner_jid == "5511912345678@s.whatsapp.net"


async def test_connect_with_a_number_carries_a_pairing_code(evolution: Evolution) -> None:
    ref = await create(evolution, number="5511987654321")
    await evolution.gateway.connect(ref)
    qr = (await until_qr(evolution, ref)).qr
    assert qr is not None
    assert qr.pairing_code is not None
    assert len(qr.pairing_code) == 8


async def test_unknown_instance_is_not_found_and_a_wrong_token_is_refused(
        evolution: Evolution) -> None:
    with pytest.raises(NotFound, match="does not exist"):
        await evolution.gateway.connect(InstanceRef("nobody-00000000"))
    ref = await create(evolution)
    with pytest.raises(UpstreamError, match="rejected the API key"):
        await evolution.gateway.connection_state(InstanceRef(ref.name, "WRONG"))


async def test_restart_refuses_closed_and_reopens_open(evolution: Evolution) -> None:
    ref = await create(evolution)
    with pytest.raises(UpstreamError):
        await evolution.gateway.restart(ref)
    await evolution.gateway.connect(ref)
    await until_qr(evolution, ref)
    evolution.scan(ref.name)
    assert (await evolution.gateway.restart(ref)).status is ConnectStatus.OPEN


async def test_logout_closes_and_repeating_it_is_a_no_op(evolution: Evolution) -> None:
    ref = await create(evolution)
    await evolution.gateway.logout(ref)  # never connected: Evolution says 400, we shrug
    await evolution.gateway.connect(ref)
    await until_qr(evolution, ref)
    evolution.scan(ref.name)
    await evolution.gateway.logout(ref)
    assert await evolution.gateway.connection_state(ref) == "close"
    await evolution.gateway.logout(ref)
    await evolution.gateway.logout(InstanceRef("nobody-00000000"))


async def test_delete_forgets_the_instance_and_is_idempotent(evolution: Evolution) -> None:
    ref = await create(evolution)
    await evolution.gateway.delete(ref)
    await evolution.wait_deliveries()  # Evolution forgets it once remove.instance is delivered
    assert [e["data"] for e in evolution.sink.events("remove.instance")] == [None]
    await evolution.gateway.delete(ref)
    assert await evolution.gateway.fetch_instances() == []
    with pytest.raises(NotFound):
        await evolution.gateway.connection_state(ref)
    await create(evolution)  # the name is free again


async def test_set_webhook_replaces_what_find_returns(evolution: Evolution) -> None:
    ref = await create(evolution)
    found = await evolution.gateway.find_webhook(ref)
    assert found is not None
    assert found.events == EVENTS
    assert found.headers == {"jwt_key": JWT_KEY, "x-trace": "t1"}
    rotated = WebhookRegistration("https://hooks.example.com/e", {"jwt_key": "rotated-" * 5},
                                  ("CONNECTION_UPDATE",), by_events=True)
    await evolution.gateway.set_webhook(ref, rotated)
    assert await evolution.gateway.find_webhook(ref) == rotated

async def test_webhooks_carry_the_envelope_and_a_jwt_signed_with_jwt_key(
        evolution: Evolution) -> None:
    receiver, url = evolution.sink, evolution.hook_url
    ref = await create(evolution)
    await evolution.gateway.connect(ref)
    await until_qr(evolution, ref)
    await evolution.wait_deliveries()
    [delivery] = [d for d in receiver.deliveries if d.json()["event"] == "qrcode.updated"]
    envelope = delivery.json()
    assert list(envelope) == ["event", "instance", "data", "destination", "date_time",
                              "server_url", "apikey"]  # no "sender" before the first open
    assert (envelope["instance"], envelope["destination"], envelope["apikey"]) == (
        ref.name, url, ref.token)
    assert envelope["data"]["qrcode"]["code"].startswith("2@")
    local = datetime.fromisoformat(envelope["date_time"].replace("Z", "+00:00"))
    assert abs(local - (datetime.now(UTC) - timedelta(hours=3))) < timedelta(minutes=1)
    assert delivery.headers["x-trace"] == "t1"
    assert "jwt_key" not in delivery.headers
    scheme, token = delivery.headers["Authorization"].split(" ", 1)
    assert scheme == "Bearer"
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}
    claims = jwt.decode(token, JWT_KEY, algorithms=["HS256"])
    assert (claims["app"], claims["action"], claims["exp"] - claims["iat"]) == (
        "evolution", "webhook", 600)
    assert receiver.events("connection.update")[0]["data"]["state"] == "connecting"

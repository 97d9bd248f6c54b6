"""The in-process fake behaves like Evolution: QR rounds and limit, scans, terminal closes,
failure injection, and no task left behind."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from adapters.evolution.fake_gateway import FakeEvolutionGateway
from application.errors import UpstreamTimeout, UpstreamUnavailable
from application.ports.evolution import (
    ConnectStatus,
    CreateInstanceRequest,
    InstanceRef,
    WebhookRegistration,
)
from tests.fakes.evolution_server import RecordingDeliverer

NAME = "c42-0a1b2c3d"
REF = InstanceRef(NAME, "TOKEN-C42")
HOOK = WebhookRegistration("https://svc.example.com/hooks", {"jwt_key": "k" * 40},
                           ("QRCODE_UPDATED", "CONNECTION_UPDATE", "STATUS_INSTANCE",
                            "LOGOUT_INSTANCE", "REMOVE_INSTANCE"))

Make = Callable[..., Any]


@pytest.fixture
async def make() -> AsyncIterator[Make]:
    """Build a fake holding NAME; every fake built is closed after the test."""
    fakes: list[FakeEvolutionGateway] = []

    async def build(deliveries: RecordingDeliverer, **options: Any) -> FakeEvolutionGateway:
        fakes.append(fake := FakeEvolutionGateway(deliveries, **options))
        await fake.create_instance(CreateInstanceRequest(NAME, "TOKEN-C42", HOOK))
        return fake

    yield build
    for fake in fakes:
        await fake.close()


async def until(predicate: Callable[[], bool]) -> None:
    async with asyncio.timeout(2.0):
        while not predicate():  # noqa: ASYNC110 - state lives in the fake, which has no events
            await asyncio.sleep(0.005)


async def test_qrs_refresh_until_the_limit_then_refused_and_closed(make: Make) -> None:
    deliveries = RecordingDeliverer()
    fake = await make(deliveries, first_qr_s=0.01, qr_refresh_s=0.01, qr_limit=3)
    assert (await fake.connect(REF)).status is ConnectStatus.PENDING
    await until(lambda: fake.sim.instances[NAME].state == "close")
    await fake.wait_deliveries()
    qrs = deliveries.events("qrcode.updated")
    assert len({q["data"]["qrcode"]["code"] for q in qrs[:3]}) == 3
    assert qrs[3]["data"] == {"message": "QR code limit reached, please login again",
                              "statusCode": 500}
    refused = deliveries.events("connection.update")[-1]["data"]
    assert (refused["state"], refused["statusReason"]) == ("refused", 428)
    assert await fake.connection_state(REF) == "close"
    assert (await fake.connect(REF)).status is ConnectStatus.PENDING  # starts over
    await until(lambda: fake.sim.instances[NAME].count == 1)


async def test_autoscan_opens_after_the_first_qr_and_later_envelopes_name_the_sender(
        make: Make) -> None:
    deliveries = RecordingDeliverer()
    fake = await make(deliveries, first_qr_s=0.01, autoscan_s=0.01)
    await fake.connect(REF)
    await until(lambda: fake.sim.instances[NAME].state == "open")
    assert (await fake.connect(REF)).status is ConnectStatus.OPEN
    await fake.wait_deliveries()
    opened = deliveries.events("connection.update")[-1]
    assert opened["data"]["wuid"] == opened["sender"] == "5511912345678@s.whatsapp.net"
    assert opened["data"]["profileName"] == "Acme Vendas"
    assert "sender" not in deliveries.events("qrcode.updated")[0]


async def test_scan_needs_a_qr_on_screen(make: Make) -> None:
    fake = await make(RecordingDeliverer())
    with pytest.raises(RuntimeError, match="no QR"):
        fake.scan(NAME)


async def test_logout_sends_the_three_terminal_close_webhooks(make: Make) -> None:
    deliveries = RecordingDeliverer()
    fake = await make(deliveries, first_qr_s=0.0)
    await fake.connect(REF)
    await until(lambda: fake.sim.instances[NAME].qr is not None)
    fake.scan(NAME)
    await fake.logout(REF)
    await fake.wait_deliveries()
    assert deliveries.events("logout.instance")[0]["data"] is None
    assert deliveries.events("status.instance")[0]["data"]["disconnectionReasonCode"] == 401
    closed = deliveries.events("connection.update")[-1]["data"]
    assert (closed["state"], closed["statusReason"]) == ("close", 401)


async def test_down_fail_next_and_latency_are_injectable(make: Make) -> None:
    fake = await make(RecordingDeliverer())
    fake.down = True
    with pytest.raises(UpstreamUnavailable):
        await fake.connection_state(REF)
    fake.down = False
    fake.fail_next("timeout")
    with pytest.raises(UpstreamTimeout):
        await fake.connection_state(REF)
    fake.latency_s = 0.05
    started = asyncio.get_running_loop().time()
    assert await fake.connection_state(REF) == "close"
    assert asyncio.get_running_loop().time() - started >= 0.05
    assert fake.calls["instance_connection_state"] == 3


async def test_close_cancels_every_timer_and_delivery() -> None:
    before = asyncio.all_tasks()
    fake = FakeEvolutionGateway(RecordingDeliverer(*[0] * 50), first_qr_s=0.0)
    await fake.create_instance(CreateInstanceRequest(NAME, "T", HOOK))
    await fake.connect(InstanceRef(NAME))
    await asyncio.sleep(0.01)
    assert asyncio.all_tasks() - before  # QR timer and retrying webhooks are running
    await fake.close()
    assert asyncio.all_tasks() - before == set()

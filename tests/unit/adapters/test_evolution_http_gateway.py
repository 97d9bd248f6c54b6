"""The HTTP adapter against the fake Evolution server: retries, circuits, timeouts, keys and
bodies, asserted on what the server received."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import attrs
import pytest

from adapters.evolution.config import EvolutionHttpConfig
from adapters.evolution.gateway import EvolutionApiGateway
from adapters.evolution.http_transport import HttpTransport
from adapters.evolution.session import create_client_session
from adapters.system.clock import SystemClock
from application.errors import NotFound, UpstreamError, UpstreamTimeout, UpstreamUnavailable
from application.ports.evolution import (
    ConnectStatus,
    CreateInstanceRequest,
    InstanceRef,
    WebhookRegistration,
)
from application.ports.system import Clock
from tests.fakes.clock import ManualClock
from tests.fakes.evolution_server import FakeEvolutionServer, start_fake_evolution

HOOK = WebhookRegistration("https://svc.example.com/api/webhooks/evolution/c42",
                           {"jwt_key": "s" * 40}, ("QRCODE_UPDATED", "CONNECTION_UPDATE"))
REF = InstanceRef("c42-0a1b2c3d", "TOKEN-C42")


def http_gateway(session: aiohttp.ClientSession, config: EvolutionHttpConfig,
                 observer: Recorder | None = None,
                 clock: Clock | None = None) -> EvolutionApiGateway:
    """The gateway as the composition root builds it: over the HTTP transport."""
    transport = HttpTransport(session, config, observer=observer or Recorder(),
                              clock=clock or SystemClock())
    return EvolutionApiGateway(transport, config.api_key)


class Recorder:
    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []
        self.circuits: list[tuple[str, str]] = []

    def request_finished(self, endpoint: str, outcome: str, seconds: float) -> None:
        self.requests.append((endpoint, outcome))

    def circuit_changed(self, scope: str, state: str) -> None:
        self.circuits.append((scope, state))


@attrs.define
class Rig:
    server: FakeEvolutionServer
    base_url: str
    session: aiohttp.ClientSession
    clock: ManualClock = attrs.field(factory=ManualClock)
    observer: Recorder = attrs.field(factory=Recorder)

    def gateway(self, **config: Any) -> EvolutionApiGateway:
        options = {"retry_start_s": 0.01, "retry_max_s": 0.02, **config}
        return http_gateway(
            self.session, EvolutionHttpConfig(self.base_url, self.server.api_key, **options),
            self.observer, self.clock)


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    runner, base_url, server = await start_fake_evolution(time_scale=0.01)
    async with aiohttp.ClientSession() as session:
        yield Rig(server, base_url, session)
    await runner.cleanup()


async def created(rig: Rig) -> EvolutionApiGateway:
    gateway = rig.gateway()
    await gateway.create_instance(CreateInstanceRequest(REF.name, REF.token or "", HOOK))
    return gateway


async def test_create_sends_the_webhook_inline_and_never_asks_for_a_qr(rig: Rig) -> None:
    gateway = rig.gateway()
    await gateway.create_instance(CreateInstanceRequest(REF.name, "TOKEN-C42", HOOK, "5511999"))
    sent = rig.server.received[0]
    assert sent.apikey == rig.server.api_key
    assert sent.body == {"instanceName": REF.name, "integration": "WHATSAPP-BAILEYS",
                         "token": "TOKEN-C42", "number": "5511999",
                         "webhook": {"url": HOOK.url, "byEvents": False, "base64": False,
                                     "headers": {"jwt_key": "s" * 40},
                                     "events": ["QRCODE_UPDATED", "CONNECTION_UPDATE"]}}
    await gateway.create_instance(CreateInstanceRequest("c42-99999999", "T2", HOOK))
    assert list(rig.server.received[1].body) == ["instanceName", "integration", "token",
                                                 "webhook"]


async def test_instance_calls_use_the_instance_token_else_the_global_key(rig: Rig) -> None:
    gateway = await created(rig)
    await gateway.connection_state(REF)
    await gateway.connection_state(InstanceRef(REF.name))
    await gateway.fetch_instances()
    keys = [(r.endpoint, r.apikey) for r in rig.server.received[1:]]
    assert keys == [("instance_connection_state", "TOKEN-C42"),
                    ("instance_connection_state", rig.server.api_key),
                    ("instance_fetch", rig.server.api_key)]


async def test_idempotent_calls_are_retried_up_to_the_attempt_limit(rig: Rig) -> None:
    gateway = await created(rig)
    rig.server.down = True
    for call in (gateway.connection_state(REF), gateway.fetch_instances(),
                 gateway.find_webhook(REF), gateway.check()):
        with pytest.raises(UpstreamUnavailable):
            await call
    counts = rig.server.requests
    assert (counts["instance_connection_state"], counts["instance_fetch"],
            counts["webhook_find"], counts["info"]) == (3, 3, 3, 3)


async def test_state_changing_calls_are_never_retried(rig: Rig) -> None:
    gateway = await created(rig)
    rig.server.down = True
    request = CreateInstanceRequest("c42-ffffffff", "T2", HOOK)
    for call in (gateway.create_instance(request), gateway.connect(REF), gateway.restart(REF),
                 gateway.logout(REF), gateway.delete(REF)):
        with pytest.raises(UpstreamUnavailable):
            await call
    counts = rig.server.requests
    assert (counts["instance_create"], counts["instance_connect"], counts["instance_restart"],
            counts["instance_logout"], counts["instance_delete"]) == (2, 1, 1, 1, 1)


async def test_a_retry_that_succeeds_hides_the_failure(rig: Rig) -> None:
    gateway = await created(rig)
    rig.server.down, rig.server.down_mode = True, "close"
    with pytest.raises(UpstreamUnavailable):
        await gateway.connection_state(REF)
    rig.server.down = False
    assert await gateway.connection_state(REF) == "close"
    assert rig.observer.requests[-2:] == [("instance_connection_state", "unavailable"),
                                          ("instance_connection_state", "ok")]


async def test_circuit_opens_after_failures_then_fails_fast_then_recovers(rig: Rig) -> None:
    gateway = await created(rig)
    rig.server.down = True
    for _ in range(5):
        with pytest.raises(UpstreamUnavailable):
            await gateway.connect(REF)
    with pytest.raises(UpstreamUnavailable) as fast:
        await gateway.connect(REF)
    assert fast.value.retry_after_s == 30
    assert rig.server.requests["instance_connect"] == 5  # the sixth never left the process
    rig.clock.advance(30)
    rig.server.down = False
    # Evolution holds connect 2 s (scaled) and the first QR comes 1.5 s (scaled) in.
    assert (await gateway.connect(REF)).status is ConnectStatus.QR
    assert ("evolution", "open") in rig.observer.circuits
    assert rig.observer.circuits[-2:] == [("evolution", "closed"), (f"instance:{REF.name}",
                                                                     "closed")]
    assert ("instance_connect", "circuit_open") in rig.observer.requests


async def test_refusals_do_not_count_against_the_circuit(rig: Rig) -> None:
    gateway = rig.gateway(breaker_failure_threshold=2)
    for _ in range(3):
        with pytest.raises(NotFound):
            await gateway.connection_state(InstanceRef("nobody-00000000"))
    assert rig.observer.circuits == []


async def test_slow_answers_raise_upstream_timeout(rig: Rig) -> None:
    gateway = await created(rig)
    rig.server.latency_s = 0.3
    with pytest.raises(UpstreamTimeout):
        await rig.gateway(request_timeout_s=0.1).connection_state(REF)
    with pytest.raises(UpstreamTimeout):
        await rig.gateway(qr_timeout_s=0.1).connect(REF)
    assert rig.server.requests["instance_connection_state"] == 1  # timeouts are not retried
    assert gateway.transport.pool_in_use() == 0


async def test_a_full_pool_serves_callers_in_arrival_order(rig: Rig) -> None:
    """Two callers each calling again as soon as an answer arrives, over one connection: the
    one already waiting goes next, instead of the one that just freed the connection."""
    await created(rig)
    rig.server.latency_s = 0.005
    finished: list[str] = []
    async with create_client_session(pool_size=1) as session:
        gateway = http_gateway(
            session, EvolutionHttpConfig(rig.base_url, rig.server.api_key), rig.observer)

        async def caller(name: str) -> None:
            for _ in range(3):
                await gateway.connection_state(REF)
                finished.append(name)

        await asyncio.gather(caller("a"), caller("b"))
        assert gateway.transport.pool_in_use() == 0
    assert finished == ["a", "b"] * 3


async def test_waiting_for_a_pooled_connection_counts_toward_the_deadline(rig: Rig) -> None:
    await created(rig)
    rig.server.latency_s = 0.3
    async with create_client_session(pool_size=1) as session:
        gateway = http_gateway(
            session, EvolutionHttpConfig(rig.base_url, rig.server.api_key,
                                         request_timeout_s=0.5), rig.observer)
        first = asyncio.ensure_future(gateway.connection_state(REF))
        await asyncio.sleep(0.05)
        started = asyncio.get_running_loop().time()
        with pytest.raises(UpstreamTimeout):  # 0.25 s in line, then 0.3 s of call: too late
            await gateway.connection_state(REF)
        assert asyncio.get_running_loop().time() - started < 0.6
        assert await first == "close"
        assert gateway.transport.pool_in_use() == 0


async def test_unreachable_evolution_is_unavailable() -> None:
    async with aiohttp.ClientSession() as session:
        config = EvolutionHttpConfig("http://127.0.0.1:9", "key", retry_start_s=0.0)
        with pytest.raises(UpstreamUnavailable):
            await http_gateway(session, config).check()


async def test_wrong_global_key_is_an_upstream_error_naming_the_key(rig: Rig) -> None:
    config = EvolutionHttpConfig(rig.base_url, "not-the-key")
    gateway = http_gateway(rig.session, config)
    with pytest.raises(UpstreamError, match="Evolution rejected the API key"):
        await gateway.fetch_instances()

"""Evolution down: connect fails in bounded time, the circuit opens and then fails fast, and the
service recovers by itself once Evolution is back and the open period is over.

``EVOLUTION_CACHE_TTL_S=0`` makes every connect go to Evolution (no cached QR), which is the
clean way to reach Evolution on an instance created while it was up. Evolution's QR refresh is
pushed out of reach (``qr_refresh_s=3600``) so that no ``QRCODE_UPDATED`` webhook can answer a
connect while Evolution is down.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import pytest

from tests.e2e.conftest import Evolution, LiveService, service_env
from tests.e2e.support import INSTANCES, admin_token, bearer, bounded, quick_create

pytestmark = pytest.mark.e2e

ORG = "clinic-outage"
QR_TIMEOUT_MS = 1500
PROBLEM_JSON = "application/problem+json"
HANG_S = QR_TIMEOUT_MS / 1000 + 1.0  # longer than any wait of ours, short for the teardown
FAILURES = 5        # the default EVOLUTION_BREAKER_FAILURES
OPEN_S = 2.0        # EVOLUTION_BREAKER_OPEN_S (30 by default), short for the test


def take_down(evolution: Evolution, mode: str) -> None:
    if mode == "hang":
        evolution.server.latency_s = HANG_S
    else:
        evolution.server.down, evolution.server.down_mode = True, mode


def bring_back(evolution: Evolution) -> None:
    evolution.server.down, evolution.server.latency_s = False, 0.0


async def connect(http: aiohttp.ClientSession, service: LiveService, instance_id: str,
                  token: str) -> tuple[int, dict[str, str], Any, float]:
    started = time.perf_counter()
    async with http.post(f"{service.base_url}{INSTANCES}/{instance_id}/connect",
                         headers=bearer(token)) as response:
        body = await response.json(content_type=None)
        return response.status, dict(response.headers), body, time.perf_counter() - started


async def ready_instance(http: aiohttp.ClientSession, service: LiveService,
                         token: str) -> str:
    """An instance created while Evolution is up, its socket open, one QR fetched."""
    created = await quick_create(http, service.base_url, token, ORG)
    instance_id: str = created["instance"]["id"]
    status, _, body, _ = await connect(http, service, instance_id, token)
    assert status == 200, body
    assert body["qr"] is not None
    return instance_id


def assert_unavailable_problem(status: int, headers: dict[str, str], body: Any) -> None:
    assert status in (503, 504), body
    assert headers["Content-Type"].startswith(PROBLEM_JSON)
    slug = "evolution-unavailable" if status == 503 else "evolution-timeout"
    assert body["type"] == f"/problems/{slug}"
    assert body["status"] == status
    if status == 503:
        assert int(headers["Retry-After"]) >= 1


@pytest.mark.parametrize("mode", ["close", "503", "hang"])
@bounded(20)
async def test_connect_while_evolution_is_down_is_a_problem_within_qr_timeout(
        mode: str, evolution_factory, service_factory, http: aiohttp.ClientSession,
        port: int) -> None:
    evolution: Evolution = await evolution_factory(time_scale=0.05, qr_refresh_s=3600)
    service = await service_factory(service_env(
        port, evolution, EVOLUTION_CACHE_TTL_S="0", QR_TIMEOUT_MS=str(QR_TIMEOUT_MS)))
    token = admin_token()
    instance_id = await ready_instance(http, service, token)

    take_down(evolution, mode)
    status, headers, body, elapsed = await connect(http, service, instance_id, token)

    print(f"{mode}: connect answered {status} in {elapsed:.3f} s")
    assert_unavailable_problem(status, headers, body)
    assert status == (504 if mode == "hang" else 503)
    assert elapsed < QR_TIMEOUT_MS / 1000 + 1.0, f"{mode}: answered after {elapsed:.3f} s"


@pytest.mark.parametrize("mode", ["close", "503"])
@bounded(30)
async def test_circuit_opens_after_five_failures_then_fails_fast_and_recovers_by_itself(
        mode: str, evolution_factory, service_factory, http: aiohttp.ClientSession,
        port: int) -> None:
    evolution: Evolution = await evolution_factory(time_scale=0.05, qr_refresh_s=3600)
    service = await service_factory(service_env(
        port, evolution, EVOLUTION_CACHE_TTL_S="0", QR_TIMEOUT_MS=str(QR_TIMEOUT_MS),
        EVOLUTION_BREAKER_OPEN_S=str(OPEN_S)))
    token = admin_token()
    instance_id = await ready_instance(http, service, token)

    take_down(evolution, mode)
    for attempt in range(1, FAILURES + 1):
        status, headers, body, _ = await connect(http, service, instance_id, token)
        assert_unavailable_problem(status, headers, body)
        assert "circuit" not in body.get("detail", ""), f"open after {attempt - 1} failures"
    opened = time.perf_counter()

    arrived = evolution.server.requests["instance_connect"]
    for _ in range(3):
        status, headers, body, elapsed = await connect(http, service, instance_id, token)
        print(f"{mode}: open circuit answered {status} in {elapsed * 1000:.1f} ms")
        assert status == 503, f"{mode}: no open circuit after {FAILURES} failures: {body}"
        assert_unavailable_problem(status, headers, body)
        assert 1 <= int(headers["Retry-After"]) <= OPEN_S + 1
        assert elapsed < 0.05, f"circuit open, yet the answer took {elapsed * 1000:.1f} ms"
    assert evolution.server.requests["instance_connect"] == arrived  # Evolution was spared

    bring_back(evolution)
    status, _, body, _ = await connect(http, service, instance_id, token)
    assert status == 503, "Evolution is back, but the open period is not over: still open"
    while (status := (await connect(http, service, instance_id, token))[0]) != 200:
        assert status == 503
        assert time.perf_counter() - opened < OPEN_S + 1.0, "no recovery after the open period"
        await asyncio.sleep(0.1)
    recovered = time.perf_counter() - opened
    status, _, body, _ = await connect(http, service, instance_id, token)
    assert status == 200, body
    assert body["qr"] is not None
    print(f"{mode}: circuit open for {recovered:.2f} s (EVOLUTION_BREAKER_OPEN_S={OPEN_S})")


@bounded(30)
async def test_connect_timeouts_count_towards_the_circuit_with_the_default_qr_timeout(
        evolution_factory, service_factory, http: aiohttp.ClientSession, port: int) -> None:
    """Evolution accepts the connection and never answers. With the default
    ``QR_TIMEOUT_MS=5000`` the HTTP client's own timeout (rounded up to a whole second by
    aiohttp for timeouts of 5 s and more) always fires after the use case's deadline has
    cancelled the call; a timed-out connect must still count against the circuit, or a hung
    Evolution costs every caller the full 5 s forever."""
    hang_s = 6.0
    evolution: Evolution = await evolution_factory(time_scale=0.05, qr_refresh_s=3600)
    service = await service_factory(service_env(
        port, evolution, EVOLUTION_CACHE_TTL_S="0", QR_TIMEOUT_MS="5000",
        EVOLUTION_BREAKER_FAILURES="1", EVOLUTION_BREAKER_OPEN_S=str(OPEN_S)))
    token = admin_token()
    instance_id = await ready_instance(http, service, token)

    evolution.server.latency_s = hang_s
    status, headers, body, elapsed = await connect(http, service, instance_id, token)
    assert status == 504, body
    assert elapsed < 5.0 + 1.0
    status, headers, body, elapsed = await connect(http, service, instance_id, token)

    assert status == 503, f"one timeout with EVOLUTION_BREAKER_FAILURES=1, no open circuit: {body}"
    assert elapsed < 0.05
    assert int(headers["Retry-After"]) >= 1

"""Single flight over real HTTP: many concurrent connects for one instance without a cached QR
make exactly one ``instance/connect`` request to Evolution."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from tests.e2e.conftest import Evolution, service_env
from tests.e2e.support import INSTANCES, admin_token, bearer, bounded, quick_create

pytestmark = pytest.mark.e2e

ORG = "clinic-flight"
CALLERS = 50


async def connect_all(http: aiohttp.ClientSession, url: str, token: str) -> list[dict]:
    async def one() -> dict:
        async with http.post(url, headers=bearer(token)) as response:
            assert response.status == 200, await response.text()
            return await response.json()

    return await asyncio.gather(*(one() for _ in range(CALLERS)))


@bounded(20)
async def test_fifty_connects_right_after_quick_create_make_one_evolution_connect(
        evolution_factory, service_factory, http: aiohttp.ClientSession, port: int) -> None:
    """No QR exists yet: the background socket opening and the 50 callers share one call
    (Evolution holds a connect on a closed instance for 2 s)."""
    evolution: Evolution = await evolution_factory(time_scale=1.0)
    service = await service_factory(service_env(port, evolution, QR_TIMEOUT_MS="5000"))
    token = admin_token()
    created = await quick_create(http, service.base_url, token, ORG)
    assert created["qr"] is None

    answers = await connect_all(
        http, f"{service.base_url}{INSTANCES}/{created['instance']['id']}/connect", token)

    assert evolution.server.requests["instance_connect"] == 1
    codes = {a["qr"]["code"] for a in answers}
    assert len(codes) == 1
    assert None not in codes


@bounded(20)
async def test_fifty_connects_with_no_cache_make_one_more_evolution_connect(
        evolution_factory, service_factory, http: aiohttp.ClientSession, port: int) -> None:
    """``EVOLUTION_CACHE_TTL_S=0``: nothing is served from the cache, so every round of
    callers goes to Evolution, and a round of 50 concurrent callers goes there once."""
    evolution: Evolution = await evolution_factory(time_scale=0.05)
    service = await service_factory(service_env(port, evolution, EVOLUTION_CACHE_TTL_S="0"))
    token = admin_token()
    created = await quick_create(http, service.base_url, token, ORG)
    url = f"{service.base_url}{INSTANCES}/{created['instance']['id']}/connect"
    server = evolution.server

    async with http.post(url, headers=bearer(token)) as response:  # the socket is open now
        assert response.status == 200, await response.text()
    before = server.requests["instance_connect"]
    server.latency_s = 0.5  # Evolution answers slowly: all 50 callers arrive while it thinks

    answers = await connect_all(http, url, token)

    assert server.requests["instance_connect"] == before + 1
    assert all(a["qr"] is not None for a in answers)

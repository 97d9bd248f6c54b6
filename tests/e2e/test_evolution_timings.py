"""Quick-create and the QR stream against Evolution's real timings (time_scale 1.0): create
holds 5 s with ``qrcode: true``, connect holds 2 s, the first QR exists 1.5 s after the socket
opens. Webhooks come back over HTTP with Evolution's ``jwt_key`` Bearer JWT."""

from __future__ import annotations

import time

import aiohttp
import pytest

from tests.e2e.conftest import Evolution, service_env
from tests.e2e.support import INSTANCES, SseStream, admin_token, bearer, bounded, quick_create

pytestmark = pytest.mark.e2e

ORG = "clinic-timings"


@bounded(20)
async def test_quick_create_answers_at_once_and_first_qr_reaches_stream_then_scan_connects(
        evolution_factory, service_factory, http: aiohttp.ClientSession, port: int) -> None:
    evolution: Evolution = await evolution_factory(time_scale=1.0)
    service = await service_factory(service_env(port, evolution))
    token = admin_token()

    started = time.perf_counter()
    async with http.post(f"{service.base_url}{INSTANCES}/quick-create", headers=bearer(token),
                         json={"organization_id": ORG, "display_name": "Recepcion"}) as answer:
        assert answer.status == 201, await answer.text()
        created = await answer.json()
    create_s = time.perf_counter() - started

    async with http.get(created["qr_stream_url"], headers=bearer(token),
                        timeout=aiohttp.ClientTimeout(total=None, sock_read=10)) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        stream = SseStream(response)
        first_qr = await stream.until("qr")
        first_qr_s = first_qr.at - started

        name = created["instance"]["evolution_name"]
        evolution.server.scan(name)
        connected = await stream.until("connected")
        assert await stream.ended()

    print(f"quick-create answered in {create_s * 1000:.0f} ms; first QR on the stream "
          f"{first_qr_s:.3f} s after the request")
    assert create_s < 0.3, f"quick-create took {create_s:.3f} s"
    assert first_qr_s < 2.5, f"first QR on the stream after {first_qr_s:.3f} s"
    assert first_qr.data["code"]
    assert first_qr.data["base64"].startswith("data:image/png;base64,")
    assert connected.data["phone_number"] == evolution.server.sim.settings.scan_number

    creates = [r for r in evolution.server.received if r.endpoint == "instance_create"]
    assert evolution.server.requests["instance_create"] == 1
    assert len(creates) == 1
    assert creates[0].body.get("qrcode") is not True
    hook = creates[0].body["webhook"]
    assert hook["url"] == f"{service.base_url}/api/webhooks/evolution/{ORG}"
    assert set(hook["headers"]) == {"jwt_key"}

    async with http.get(f"{service.base_url}{INSTANCES}/{created['instance']['id']}",
                        headers=bearer(token)) as response:
        instance = await response.json()
    assert instance["state"] == "connected"
    assert instance["connected_at"] is not None


@bounded(20)
async def test_connect_answers_with_the_webhook_qr_when_it_comes_before_connects_answer(
        evolution_factory, service_factory, http: aiohttp.ClientSession, port: int) -> None:
    """API.md 4: the QR comes from ``instance/connect`` or the next ``QRCODE_UPDATED``,
    whichever is first. Here Evolution holds connect 4 s; the QR exists (and is posted by
    webhook) 1.5 s after the socket opens."""
    evolution = await evolution_factory(time_scale=1.0, connect_wait_s=4.0)
    service = await service_factory(service_env(port, evolution, QR_TIMEOUT_MS="5000"))
    token = admin_token()

    started = time.perf_counter()
    created = await quick_create(http, service.base_url, token, ORG)
    async with http.post(f"{service.base_url}{INSTANCES}/{created['instance']['id']}/connect",
                         headers=bearer(token)) as response:
        assert response.status == 200, await response.text()
        body = await response.json()
    elapsed = time.perf_counter() - started

    print(f"connect answered with a QR {elapsed:.3f} s after quick-create")
    assert body["qr"] is not None
    assert elapsed < 3.0, (f"connect answered after {elapsed:.3f} s: it waited for Evolution's "
                           f"4 s connect instead of the QRCODE_UPDATED webhook at 1.5 s")


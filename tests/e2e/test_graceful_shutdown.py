"""``wachannel serve`` stops when told to, even while clinics hold QR streams open.

A rolling deploy sends SIGTERM and waits a grace period (Kubernetes: 30 s) before SIGKILL. A
QR stream lasts up to ``QR_STREAM_MAX_S`` (300 s): the replica must end its streams (the
browser's EventSource reconnects to another replica) instead of waiting for them.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from tests.e2e.processes import Processes, base_env
from tests.e2e.support import (
    SseStream,
    admin_token,
    bearer,
    bounded,
    free_port,
    quick_create,
    wait_ready,
)

pytestmark = pytest.mark.e2e

GRACE_S = 5.0


@bounded(30)
async def test_serve_exits_promptly_on_sigterm_while_a_qr_stream_is_open(
        processes: Processes, http: aiohttp.ClientSession) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    serve = processes.serve("serve", port, base_env(PUBLIC_BASE_URL=url,
                                                    FAKE_EVOLUTION_TIME_SCALE="0.01"))
    await wait_ready(http, url, alive=lambda: serve.alive)
    token = admin_token()
    created = await quick_create(http, url, token, "clinic-shutdown")

    async with http.get(created["qr_stream_url"], headers=bearer(token),
                        timeout=aiohttp.ClientTimeout(total=None, sock_read=None)) as response:
        await SseStream(response).until("qr")
        terminated = time.perf_counter()
        serve.terminate()
        exited = await serve.exited(GRACE_S)
        waited = time.perf_counter() - terminated

    assert exited, (f"serve still running {waited:.1f} s after SIGTERM: the open QR "
                             f"stream holds the graceful shutdown")
    assert serve.popen.returncode == 0


@bounded(30)
async def test_on_sigterm_readiness_fails_at_once_while_liveness_holds_then_serve_exits(
        processes: Processes, http: aiohttp.ClientSession) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    serve = processes.serve("serve", port, base_env(
        PUBLIC_BASE_URL=url, SHUTDOWN_DRAIN_S="1.5", SHUTDOWN_GRACE_S=str(GRACE_S)))
    await wait_ready(http, url, alive=lambda: serve.alive)
    async with http.get(f"{url}/api/health/ready") as before:
        assert before.status == 200

    terminated = time.perf_counter()
    serve.terminate()
    await asyncio.sleep(0.3)  # inside the drain: the listener still answers
    async with http.get(f"{url}/api/health/ready") as ready:
        body = await ready.json(content_type=None)
    async with http.get(f"{url}/api/health") as live:
        assert live.status == 200
    assert ready.status == 503, body
    assert body["status"] == "fail"
    assert "shutting down" in body["output"]
    assert await serve.exited(GRACE_S)
    assert time.perf_counter() - terminated >= 1.5  # it drained before it closed
    assert serve.popen.returncode == 0

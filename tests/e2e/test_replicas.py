"""Two ``wachannel serve`` replicas and a ``wachannel worker`` on one Postgres database, with
the fake Evolution server shared by both: what one replica hears, the other shows within 1 s
(Postgres LISTEN/NOTIFY), and a kill switch thrown on one holds on the other within 1 s."""

from __future__ import annotations

import asyncio
import time
import uuid

import aiohttp
import pytest

from tests.e2e.conftest import Evolution
from tests.e2e.processes import Processes, base_env, cli_token
from tests.e2e.support import (
    INSTANCES,
    SseStream,
    bearer,
    bounded,
    free_port,
    qr_envelope,
    quick_create,
    rotate_secret,
    signed,
    wait_ready,
)

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

ORG = "clinic-replicas"
PROPAGATION_S = 1.0  # API.md 6 and 7


@bounded(60)
async def test_two_replicas_share_qrs_and_the_kill_switch_within_one_second(
        postgres_dsn: str, evolution_factory, processes: Processes,
        http: aiohttp.ClientSession) -> None:
    evolution: Evolution = await evolution_factory(time_scale=1.0)
    ports = {"a": free_port(), "b": free_port()}
    shared = {"DATABASE_URL": postgres_dsn, "EVOLUTION_API_BASE_URL": evolution.url,
              "EVOLUTION_API_KEY": evolution.key, "MAX_INSTANCES_PER_ORG": "1000"}
    env = {name: base_env(**shared, PUBLIC_BASE_URL=f"http://127.0.0.1:{port}")
           for name, port in ports.items()}
    replica = {name: processes.serve(f"serve-{name}", port, env[name])
               for name, port in ports.items()}
    worker = processes.worker("worker", env["a"])
    url = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    token = cli_token(env["a"])
    await asyncio.gather(*(wait_ready(http, url[n], alive=lambda n=n: replica[n].alive)
                           for n in url))
    assert worker.alive

    created = await quick_create(http, url["a"], token, ORG)
    secret = await rotate_secret(http, url["a"], token, ORG)
    name = created["instance"]["evolution_name"]

    async with http.get(f"{url['b']}{INSTANCES}/{created['instance']['id']}/qr/stream",
                        headers=bearer(token),
                        timeout=aiohttp.ClientTimeout(total=None, sock_read=15)) as response:
        assert response.status == 200
        stream = SseStream(response)
        await stream.until("qr")  # B's own first QR, from Evolution

        code = f"2@e2e-{uuid.uuid4().hex}"
        body, headers = signed(secret, qr_envelope(name, code))
        posted = time.perf_counter()
        async with http.post(f"{url['a']}/api/webhooks/evolution/{ORG}", data=body,
                             headers=headers) as answer:
            assert answer.status == 200, await answer.text()
            assert (await answer.json())["duplicate"] is False
        shown = await stream.until("qr", lambda qr: qr["code"] == code)
    qr_s = shown.at - posted
    print(f"QR by webhook on A reached B's stream after {qr_s * 1000:.0f} ms")
    assert qr_s < PROPAGATION_S

    off_s = await _switch_and_wait(http, url, token, enabled=False, expect=403)
    print(f"kill switch on A held on B after {off_s * 1000:.0f} ms")
    on_s = await _switch_and_wait(http, url, token, enabled=True, expect=201)
    print(f"switch back on A held on B after {on_s * 1000:.0f} ms")
    assert off_s < PROPAGATION_S
    assert on_s < PROPAGATION_S
    assert all(p.alive for p in (*replica.values(), worker))


async def _switch_and_wait(http: aiohttp.ClientSession, url: dict[str, str], token: str,
                           enabled: bool, expect: int) -> float:
    """Flip ``radical_solution`` on A; return how long until quick-create on B answers
    ``expect`` (or fail after the contract's second)."""
    async with http.post(f"{url['a']}/api/admin/feature-flags", headers=bearer(token),
                         json={"radical_solution": enabled}) as answer:
        assert answer.status == 200, await answer.text()
    switched = time.perf_counter()
    while True:
        async with http.post(f"{url['b']}{INSTANCES}/quick-create", headers=bearer(token),
                             json={"organization_id": f"{ORG}-poll"}) as response:
            status, body = response.status, await response.json(content_type=None)
        elapsed = time.perf_counter() - switched
        if status == expect:
            if expect == 403:
                assert body["type"] == "/problems/feature-disabled"
            return elapsed
        assert status in (201, 403), body
        assert elapsed < PROPAGATION_S, f"B still answers {status} {elapsed:.3f} s later"
        await asyncio.sleep(0.02)

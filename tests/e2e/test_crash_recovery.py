"""A crash in the middle of a webhook burst loses nothing that was acknowledged and applies
nothing twice: ``serve`` and both ``worker`` processes are SIGKILLed while 300 signed
``messages.upsert`` webhooks are being posted; every 200 is in the inbox, and after a restart
(and Evolution's redelivery of what was not acknowledged) every message is stored exactly once.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import aiohttp
import asyncpg
import pytest

from tests.e2e.processes import Process, Processes, base_env, cli_token
from tests.e2e.support import (
    bounded,
    eventually,
    free_port,
    message_envelope,
    quick_create,
    rotate_secret,
    signed,
    wait_ready,
)

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

ORG = "clinic-crash"
MESSAGES = 300
KILL_AFTER = 100  # acknowledgements before the crash
# A worker killed mid-batch leaves its claimed rows leased for ProcessingPolicy.lease_s (30 s,
# not configurable), after which another worker takes them over.
DRAIN_S = 45.0


@bounded(90)
async def test_sigkill_mid_burst_loses_no_acknowledged_webhook_and_stores_each_once(
        postgres_dsn: str, processes: Processes) -> None:
    port = free_port()
    env = base_env(DATABASE_URL=postgres_dsn, PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
                   WEBHOOK_RATE_PER_ORG="100000")
    url = f"http://127.0.0.1:{port}"
    token = cli_token(env)
    connector = aiohttp.TCPConnector(limit=60)
    async with aiohttp.ClientSession(connector=connector,
                                     timeout=aiohttp.ClientTimeout(total=15)) as http:
        crashed = _start(processes, port, env)
        await wait_ready(http, url, alive=lambda: crashed[0].alive)
        created = await quick_create(http, url, token, ORG)
        secret = await rotate_secret(http, url, token, ORG)
        name = created["instance"]["evolution_name"]
        keys = [f"E2E{uuid.uuid4().hex.upper()}" for _ in range(MESSAGES)]
        bodies = {key: signed(secret, message_envelope(name, key)) for key in keys}

        acked: dict[str, str] = {}
        await asyncio.gather(*(
            _post(http, url, bodies[key], lambda event_id, key=key: _ack(
                acked, key, event_id, crashed)) for key in keys))
        assert not any(p.alive for p in crashed), "the crash never came"
        assert KILL_AFTER <= len(acked) < MESSAGES, len(acked)

        stored = await _inbox_ids(postgres_dsn, list(acked.values()))
        assert set(acked.values()) <= stored, "an acknowledged webhook is not in the inbox"

        restarted = _start(processes, port, env)
        await wait_ready(http, url, alive=lambda: restarted[0].alive)
        # Evolution redelivers what was not acknowledged; a stored one comes back a duplicate.
        redelivered = await asyncio.gather(*(
            _post(http, url, bodies[key], lambda _: None) for key in keys if key not in acked))
        assert all(status == 200 for status in redelivered), redelivered
        again = await asyncio.gather(*(
            _post(http, url, bodies[key], lambda _: None, expect_duplicate=True)
            for key in list(acked)[:20]))
        assert all(status == 200 for status in again), again

    drained = await eventually(lambda: _drained(postgres_dsn), DRAIN_S,
                               "the inbox has no pending or processing rows", every_s=0.25)
    print(f"{len(acked)} of {MESSAGES} acknowledged before the crash; "
          f"inbox drained {drained:.1f} s after redelivery")
    counts = await _message_counts(postgres_dsn, created["instance"]["id"])
    assert all(counts.get(key) == 1 for key in acked), "an acknowledged message is not once"
    assert {k: n for k, n in counts.items() if n != 1} == {}
    assert set(counts) == set(keys)
    assert await _dead(postgres_dsn) == 0


def _start(processes: Processes, port: int, env: dict[str, str]) -> list[Process]:
    return [processes.serve("serve", port, env), processes.worker("worker-1", env),
            processes.worker("worker-2", env)]


def _ack(acked: dict[str, str], key: str, event_id: str, crash: list[Process]) -> None:
    acked[key] = event_id
    if len(acked) == KILL_AFTER:
        for process in crash:
            process.kill()


async def _post(http: aiohttp.ClientSession, url: str, signed_body: tuple[bytes, dict],
                on_ack: Callable[[str], None], expect_duplicate: bool | None = None
                ) -> int | None:
    body, headers = signed_body
    try:
        async with http.post(f"{url}/api/webhooks/evolution/{ORG}", data=body,
                             headers=headers) as response:
            if response.status != 200:
                return response.status
            answer = await response.json()
    except (aiohttp.ClientError, TimeoutError):
        return None  # no answer: not acknowledged, Evolution would retry it
    if expect_duplicate is not None:
        assert answer["duplicate"] is expect_duplicate, answer
    on_ack(answer["event_id"])
    return 200


async def _query(dsn: str, sql: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


async def _inbox_ids(dsn: str, ids: list[str]) -> set[str]:
    rows = await _query(dsn, "SELECT id FROM webhook_inbox WHERE id = ANY($1::uuid[])", ids)
    return {str(row["id"]) for row in rows}


async def _drained(dsn: str) -> bool:
    rows = await _query(dsn, "SELECT count(*) AS n FROM webhook_inbox "
                             "WHERE status IN ('pending', 'processing')")
    return rows[0]["n"] == 0


async def _dead(dsn: str) -> int:
    rows = await _query(dsn, "SELECT count(*) AS n FROM webhook_inbox WHERE status = 'dead'")
    return int(rows[0]["n"])


async def _message_counts(dsn: str, instance_id: str) -> dict[str, int]:
    rows = await _query(dsn, "SELECT message_id, count(*) AS n FROM messages "
                             "WHERE instance_id = $1::uuid GROUP BY message_id", instance_id)
    return {row["message_id"]: row["n"] for row in rows}

"""Sync with Evolution (issue 15) over real HTTP on Postgres: instances created directly at
the fake are adopted (organization from the name's prefix or the mapping) with our webhook
registered on them, and every kind of drift is reported; a dry run changes nothing."""

from __future__ import annotations

from typing import Any

import aiohttp
import asyncpg
import pytest

from tests.e2e.backup_support import evolution_call, post_json
from tests.e2e.conftest import Evolution, service_env
from tests.e2e.support import INSTANCES, admin_token, bearer, bounded, quick_create

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

ORG = "clinic-sync"
BY_PREFIX = f"{ORG}-aaaa0001"
BY_MAPPING = "lobby"
ORPHAN = "orphan"
SYNC = "/api/admin/instances/sync"


@bounded(60)
async def test_sync_adopts_what_only_evolution_holds_and_reports_each_drift(
        postgres_dsn: str, evolution_factory, service_factory,
        http: aiohttp.ClientSession, port: int) -> None:
    evolution: Evolution = await evolution_factory(time_scale=0.01)
    service = await service_factory(service_env(port, evolution, DATABASE_URL=postgres_dsn),
                                    run_worker=True)
    base, token = service.base_url, admin_token()
    kept = (await quick_create(http, base, token, ORG))["instance"]
    gone = (await quick_create(http, base, token, ORG))["instance"]
    differs = (await quick_create(http, base, token, ORG))["instance"]
    for name in (BY_PREFIX, BY_MAPPING, ORPHAN):
        status, answer = await evolution_call(http, evolution, "POST", "/instance/create", {
            "instanceName": name, "integration": "WHATSAPP-BAILEYS", "token": f"tok-{name}"})
        assert status == 201, answer
    # Its socket opened and its first QR shown first, so that nothing the service does next
    # moves the row that the test makes stale.
    status, shown = await post_json(http, f"{base}{INSTANCES}/{differs['id']}/connect", token,
                                    {})
    assert status == 200, shown
    assert shown["qr"] is not None
    # Drift made behind the service's back: Evolution loses one, our row of another goes stale.
    evolution.server.sim.instances.pop(gone["evolution_name"])
    await _set_state(postgres_dsn, differs["id"], "connected")
    # fetchInstances reports Evolution's database row, which says `close` until a scan.
    evolution_state = evolution.server.sim.instances[differs["evolution_name"]].db_status
    assert evolution_state in ("close", "connecting")
    mapping = {"mapping": {BY_MAPPING: ORG}}

    status, dry = await post_json(http, f"{base}{SYNC}?dry_run=true", token, mapping)
    assert status == 200, dry
    assert dry["dry_run"] is True
    assert _adopted(dry) == {BY_PREFIX: ORG, BY_MAPPING: ORG}
    assert dry["only_in_evolution"] == [ORPHAN]
    assert dry["only_here"] == [gone["evolution_name"]]
    assert dry["state_differs"] == [{"evolution_name": differs["evolution_name"],
                                     "state": "connected",
                                     "evolution_state": evolution_state}]
    assert await _names_here(http, base, token) == {kept["evolution_name"],
                                                    gone["evolution_name"],
                                                    differs["evolution_name"]}
    assert evolution.server.sim.instances[BY_PREFIX].webhook is None

    status, done = await post_json(http, f"{base}{SYNC}", token, mapping)
    assert status == 200, done
    assert _adopted(done) == {BY_PREFIX: ORG, BY_MAPPING: ORG}
    assert await _names_here(http, base, token) >= {BY_PREFIX, BY_MAPPING}
    ours = evolution.server.sim.instances[kept["evolution_name"]].webhook
    for name in (BY_PREFIX, BY_MAPPING):
        hook = evolution.server.sim.instances[name].webhook
        assert hook["url"] == f"{base}/api/webhooks/evolution/{ORG}"
        assert hook["headers"]["jwt_key"] == ours["headers"]["jwt_key"]

    status, again = await post_json(http, f"{base}{SYNC}", token, mapping)
    assert status == 200, again
    assert again["adopted"] == []
    assert again["only_in_evolution"] == [ORPHAN]


def _adopted(report: dict[str, Any]) -> dict[str, str]:
    return {a["evolution_name"]: a["organization_id"] for a in report["adopted"]}


async def _names_here(http: aiohttp.ClientSession, base: str, token: str) -> set[str]:
    async with http.get(f"{base}{INSTANCES}?limit=200", headers=bearer(token)) as response:
        return {i["evolution_name"] for i in (await response.json())["items"]}


async def _set_state(dsn: str, instance_id: str, state: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("UPDATE instances SET state = $2 WHERE id = $1::uuid",
                           instance_id, state)
    finally:
        await conn.close()

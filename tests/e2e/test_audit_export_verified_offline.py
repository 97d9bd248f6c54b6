"""The audit export (API.md 8, 9) over real HTTP on Postgres, checked offline by
``wachannel audit verify --file`` with no database configured; and a version-1 backup
document, as an older release stored it, restores."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from tests.e2e.backup_support import post_json
from tests.e2e.conftest import Evolution, service_env
from tests.e2e.processes import REPO, WACHANNEL, base_env
from tests.e2e.support import INSTANCES, admin_token, bearer, bounded, quick_create

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

FIXTURE = REPO / "tests" / "fixtures" / "backup_v1.json"


def _verify(path: Path) -> tuple[int, dict[str, object]]:
    done = subprocess.run(  # noqa: S603
        [str(WACHANNEL), "audit", "verify", "--file", str(path)], env=base_env(),
        capture_output=True, timeout=30, cwd=str(REPO))
    return done.returncode, json.loads(done.stdout or b"{}")


@bounded(60)
async def test_exported_trail_verifies_offline_and_one_changed_byte_names_its_line(
        postgres_dsn: str, evolution_factory, service_factory,
        http: aiohttp.ClientSession, port: int, tmp_path: Path) -> None:
    evolution: Evolution = await evolution_factory(time_scale=0.01)
    service = await service_factory(service_env(port, evolution, DATABASE_URL=postgres_dsn))
    base, token = service.base_url, admin_token()
    for org in ("clinic-audit-a", "clinic-audit-b", "clinic-audit-a"):
        await quick_create(http, base, token, org)
    await post_json(http, f"{base}/api/admin/feature-flags", token, {"radical_solution": True})

    # QRs arrive (and are audited) in the background: the export holds at least what was
    # stored before it and at most what was stored after.
    before = await _stored(postgres_dsn)
    async with http.get(f"{base}/api/admin/audit/export", headers=bearer(token)) as response:
        assert response.status == 200, await response.text()
        assert response.headers["Content-Type"].startswith("application/x-ndjson")
        exported = await response.read()
    lines = exported.splitlines()
    stored = json.loads(lines[-1])["count"]
    assert stored == len(lines) - 1
    assert before <= stored <= await _stored(postgres_dsn)
    assert all("prev_hash" in json.loads(line) for line in lines[:-1])

    path = tmp_path / "audit.jsonl"
    path.write_bytes(exported)
    assert _verify(path) == (0, {"valid": True, "events": stored, "first_broken_line": None,
                                 "reason": None})
    edited = lines[1].replace(b"clinic-audit", b"clinic-audiT", 1)
    assert edited != lines[1]
    lines[1] = edited
    path.write_bytes(b"\n".join(lines) + b"\n")
    code, verdict = _verify(path)
    assert code == 1
    assert verdict["first_broken_line"] == 2

    async with http.get(f"{base}/api/admin/audit/export?organization_id=clinic-audit-b",
                        headers=bearer(token)) as response:
        one = (await response.read()).splitlines()
    assert {json.loads(line)["organization_id"] for line in one[:-1]} == {"clinic-audit-b"}


async def _stored(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM audit_events"))
    finally:
        await conn.close()


@bounded(60)
async def test_a_version_1_backup_restores_its_instances(
        postgres_dsn: str, evolution_factory, service_factory,
        http: aiohttp.ClientSession, port: int) -> None:
    evolution: Evolution = await evolution_factory(time_scale=0.01)
    service = await service_factory(service_env(port, evolution, DATABASE_URL=postgres_dsn))
    base, token = service.base_url, admin_token()
    document = FIXTURE.read_bytes()
    backup_id = json.loads(document)["id"]
    conn = await asyncpg.connect(postgres_dsn)
    try:
        await conn.execute(
            "INSERT INTO backups (id, created_at, instances, sha256, size, document) "
            "VALUES ($1, now(), 2, $2, $3, $4)", backup_id, json.loads(document)["sha256"],
            len(document), document)
    finally:
        await conn.close()

    status, report = await post_json(http, f"{base}/api/admin/backups/{backup_id}/restore",
                                     token)
    assert status == 200, report
    assert report == {"restored": 2, "unchanged": 0, "failed": []}
    async with http.get(f"{base}{INSTANCES}?organization_id=clinic-v1",
                        headers=bearer(token)) as response:
        items = (await response.json())["items"]
    assert {i["evolution_name"] for i in items} == {"clinic-v1-0a1b2c3d", "clinic-v1-4e5f6a7b"}
    restored = evolution.server.sim.instances["clinic-v1-0a1b2c3d"]
    assert restored.token == "v1-token-0a1b2c3d"
    assert restored.webhook["headers"]["jwt_key"] == "v1-webhook-secret-clinic"

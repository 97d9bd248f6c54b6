"""Backup, restore, sync and export routes on the embedded default (API.md 2 and 9): who may
call them, strict input, and a round trip through the in-memory backup store."""

from __future__ import annotations

import pytest

from domain.audit_export import verify_export
from tests.api.conftest import Service

BACKUPS = "/api/admin/backups"


async def test_admin_and_system_take_and_list_backups_a_tenant_admin_may_not(
        service: Service) -> None:
    await service.quick_create("clinic-42")
    created = await service.client.post(BACKUPS, headers=service.auth("system"))
    assert created.status == 201, await created.text()
    backup = await created.json()
    assert backup["instances"] == 1
    listed = await (await service.client.get(BACKUPS, headers=service.auth("admin"))).json()
    # The in-process leader also took one when it started.
    assert listed["items"][0]["id"] == backup["id"]
    document = await service.client.get(f"{BACKUPS}/{backup['id']}",
                                        headers=service.auth("system"))
    assert document.status == 200
    body = await document.json()
    assert body["sha256"] == backup["sha256"]
    text = await document.text()
    assert await service.org_secret("clinic-42") not in text  # sealed, never in clear
    async with service.container.uow() as uow:
        token = (await uow.instances.all())[0].evolution_token
    assert token
    assert token not in text
    assert "wac1:" in text
    tenant = service.auth("tenant_admin", "clinic-42")
    for method, path in (("POST", BACKUPS), ("GET", BACKUPS),
                         ("POST", f"{BACKUPS}/{backup['id']}/restore"),
                         ("POST", "/api/admin/instances/sync"),
                         ("GET", "/api/admin/audit/export")):
        answer = await service.client.request(method, path, headers=tenant)
        assert answer.status == 403, (method, path, answer.status)


async def test_only_an_admin_restores_and_a_second_restore_changes_nothing(
        service: Service) -> None:
    await service.quick_create("clinic-42")
    backup = await (await service.client.post(BACKUPS, headers=service.auth())).json()
    restore = f"{BACKUPS}/{backup['id']}/restore"
    assert (await service.client.post(restore, headers=service.auth("system"))).status == 403
    answer = await service.client.post(restore, headers=service.auth())
    assert answer.status == 200
    assert await answer.json() == {"restored": 0, "unchanged": 1, "failed": []}


@pytest.mark.parametrize("backup_id", ["nope", "00000000-0000-0000-0000-000000000000",
                                       "../../etc/passwd"])
async def test_an_unknown_backup_is_404(service: Service, backup_id: str) -> None:
    answer = await service.client.get(f"{BACKUPS}/{backup_id}", headers=service.auth())
    assert answer.status == 404
    assert answer.headers["Content-Type"].startswith("application/problem+json")


@pytest.mark.parametrize("body", [{"mapping": {"x": "bad org!"}}, {"mapping": []},
                                  {"mapping": {"x": 5}}, {"other": 1}])
async def test_sync_refuses_a_bad_mapping(service: Service, body: object) -> None:
    answer = await service.client.post("/api/admin/instances/sync", json=body,
                                       headers=service.auth())
    assert answer.status == 422, await answer.text()


async def test_sync_dry_run_flag_is_strict(service: Service) -> None:
    answer = await service.client.post("/api/admin/instances/sync?dry_run=yes",
                                       headers=service.auth())
    assert answer.status == 422
    answer = await service.client.post("/api/admin/instances/sync?dry_run=true",
                                       headers=service.auth())
    assert answer.status == 200
    assert (await answer.json())["dry_run"] is True


async def test_the_export_streams_lines_that_verify(service: Service) -> None:
    await service.quick_create("clinic-42")
    answer = await service.client.get("/api/admin/audit/export?organization_id=clinic-42",
                                      headers=service.auth())
    assert answer.status == 200
    assert answer.headers["Content-Type"] == "application/x-ndjson"
    verdict = verify_export((await answer.read()).splitlines())
    assert verdict.valid
    assert verdict.events >= 1
    bad = await service.client.get("/api/admin/audit/export?since=yesterday",
                                   headers=service.auth())
    assert bad.status == 422


async def test_head_on_the_export_answers_its_headers_and_no_body(service: Service) -> None:
    answer = await service.client.head("/api/admin/audit/export", headers=service.auth())
    assert answer.status == 200
    assert answer.headers["Content-Type"] == "application/x-ndjson"
    assert answer.headers["X-Request-ID"]
    assert await answer.read() == b""
    again = await service.client.get("/api/admin/audit/export", headers=service.auth())
    assert again.status == 200  # the connection survived the HEAD
    assert again.headers["X-Request-ID"]


async def test_backups_list_in_pages_newest_first(service: Service) -> None:
    taken = [(await (await service.client.post(BACKUPS, headers=service.auth())).json())["id"]
             for _ in range(3)]
    seen: list[str] = []
    cursor = None
    while True:
        url = f"{BACKUPS}?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = await (await service.client.get(url, headers=service.auth())).json()
        assert len(page["items"]) <= 2
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen[:3] == taken[::-1]
    assert len(seen) == len(set(seen))
    bad = await service.client.get(f"{BACKUPS}?cursor=bm9wZQ", headers=service.auth())
    assert bad.status == 422

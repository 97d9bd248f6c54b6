"""Instance routes (API.md section 4) and the preserved legacy routes (section 5)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any
from uuid import UUID

from tests.api.conftest import Service

BASE = "/api/channels/whatsapp/instances"
PROBLEM = "application/problem+json"


async def read_events(response: Any, until: str, limit_s: float = 5.0) -> list[tuple[str, Any]]:
    """Parse SSE frames until the event named ``until`` (or the time limit)."""
    events: list[tuple[str, Any]] = []
    name = None
    async with asyncio.timeout(limit_s):
        async for raw in response.content:
            line = raw.decode().rstrip("\n")
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: ") and name:
                events.append((name, json.loads(line[6:])))
                if name == until:
                    return events
                name = None
    return events


async def test_quick_create_returns_201_with_qr_stream_url(service: Service) -> None:
    started = time.perf_counter()
    body = await service.quick_create(display_name="Recepción")
    elapsed = time.perf_counter() - started
    instance = body["instance"]
    assert elapsed < 1.0
    assert instance["state"] == "awaiting_qr"
    assert instance["display_name"] == "Recepción"
    assert instance["evolution_name"].startswith("clinic-42-")
    assert len(instance["evolution_name"]) == len("clinic-42-") + 8
    assert body["qr_stream_url"] == (f"{service.base_url}{BASE}/{instance['id']}/qr/stream")
    assert service.fake.calls["instance_create"] == 1


async def test_quick_create_with_wait_for_qr_returns_the_first_qr(service: Service) -> None:
    body = await service.quick_create(wait_for_qr=True)
    assert body["qr"]["code"]
    assert body["qr"]["base64"].startswith("data:image/png;base64,")


async def test_first_qr_reaches_the_stream_within_two_seconds(service: Service) -> None:
    started = time.perf_counter()
    created = await service.quick_create()
    response = await service.client.get(created["qr_stream_url"].replace(service.base_url, ""),
                                        headers=service.auth())
    assert response.headers["Content-Type"] == "text/event-stream"
    events = await read_events(response, "qr")
    assert events[-1][0] == "qr"
    assert time.perf_counter() - started < 2.0
    response.close()


async def test_stream_reports_states_and_ends_with_connected_after_scan(service: Service) -> None:
    created = await service.quick_create(wait_for_qr=True)
    path = f"{BASE}/{created['instance']['id']}/qr/stream"
    response = await service.client.get(path, headers=service.auth())
    first = await read_events(response, "qr")
    service.fake.scan(created["instance"]["evolution_name"])
    rest = await read_events(response, "connected")
    names = [name for name, _ in first + rest]
    assert names[0] == "state"
    assert names[-1] == "connected"
    assert {"state": "connected", "state_reason": None} in [data for _, data in rest]
    assert rest[-1][1]["phone_number"]
    instance = await (await service.client.get(f"{BASE}/{created['instance']['id']}",
                                               headers=service.auth())).json()
    assert instance["state"] == "connected"
    assert instance["connected_at"] is not None


async def test_connect_returns_the_cached_qr_without_calling_evolution_again(
        service: Service) -> None:
    created = await service.quick_create(wait_for_qr=True)
    calls = service.fake.calls["instance_connect"]
    response = await service.client.post(f"{BASE}/{created['instance']['id']}/connect",
                                         headers=service.auth())
    body = await response.json()
    assert response.status == 200
    assert body["qr"]["code"] == created["qr"]["code"]
    assert service.fake.calls["instance_connect"] == calls


async def test_legacy_connect_answers_the_same_body_with_deprecation_headers(
        service: Service) -> None:
    created = await service.quick_create(wait_for_qr=True)
    instance_id = created["instance"]["id"]
    new = await service.client.post(f"{BASE}/{instance_id}/connect", headers=service.auth())
    for method in ("POST", "GET"):
        old = await service.client.request(method, f"/api/whatsapp/instances/{instance_id}/connect",
                                           headers=service.auth())
        assert old.status == 200
        assert await old.json() == await new.json()
        assert old.headers["Deprecation"] == "true"
        assert old.headers["Sunset"].endswith("GMT")
        assert old.headers["Link"] == (f"</api/channels/whatsapp/instances/{instance_id}/connect>;"
                                       ' rel="successor-version"')


async def test_another_tenants_instance_is_404_on_every_route(service: Service) -> None:
    created = await service.quick_create("clinic-a")
    instance_id = created["instance"]["id"]
    other = service.auth("tenant_admin", "clinic-b")
    for method, path in (("GET", f"{BASE}/{instance_id}"),
                         ("POST", f"{BASE}/{instance_id}/connect"),
                         ("GET", f"{BASE}/{instance_id}/status"),
                         ("POST", f"{BASE}/{instance_id}/restart"),
                         ("POST", f"{BASE}/{instance_id}/logout"),
                         ("DELETE", f"{BASE}/{instance_id}"),
                         ("GET", f"{BASE}/{instance_id}/messages"),
                         ("GET", f"{BASE}/{instance_id}/qr/stream"),
                         ("GET", f"/api/whatsapp/instances/{instance_id}/qr/stream"),
                         ("POST", f"/api/whatsapp/instances/{instance_id}/connect")):
        response = await service.client.request(method, path, headers=other)
        assert response.status == 404, (method, path, response.status)
        assert response.content_type == PROBLEM


async def test_tenant_admin_creates_in_own_org_and_is_403_naming_another(service: Service) -> None:
    own = await service.client.post(f"{BASE}/quick-create", json={},
                                    headers=service.auth("tenant_admin", "clinic-a"))
    other = await service.client.post(f"{BASE}/quick-create", json={"organization_id": "clinic-b"},
                                      headers=service.auth("tenant_admin", "clinic-a"))
    assert own.status == 201
    assert (await own.json())["instance"]["organization_id"] == "clinic-a"
    assert other.status == 403
    assert (await other.json(content_type=PROBLEM))["type"] == "/problems/forbidden"


async def test_list_shows_a_tenant_only_its_own_instances(service: Service) -> None:
    await service.quick_create("clinic-a")
    await service.quick_create("clinic-b")
    mine = await (await service.client.get(BASE, headers=service.auth("tenant_admin",
                                                                      "clinic-a"))).json()
    everything = await (await service.client.get(BASE, headers=service.auth())).json()
    assert {i["organization_id"] for i in mine["items"]} == {"clinic-a"}
    assert len(everything["items"]) == 2


async def test_list_paginates_with_a_cursor(service: Service) -> None:
    for _ in range(3):
        await service.quick_create("clinic-p")
    first = await (await service.client.get(f"{BASE}?limit=2&organization_id=clinic-p",
                                            headers=service.auth())).json()
    second = await (await service.client.get(
        f"{BASE}?limit=2&organization_id=clinic-p&cursor={first['next_cursor']}",
        headers=service.auth())).json()
    ids = [i["id"] for i in first["items"] + second["items"]]
    assert len(ids) == len(set(ids)) == 3
    assert second["next_cursor"] is None


async def test_system_role_may_not_touch_tenant_data(service: Service) -> None:
    response = await service.client.get(BASE, headers=service.auth("system"))
    assert response.status == 403


async def test_routes_without_token_are_401(service: Service) -> None:
    for method, path in (("POST", f"{BASE}/quick-create"), ("GET", BASE),
                         ("GET", "/api/admin/feature-flags"), ("GET", "/api/admin/audit")):
        response = await service.client.request(method, path)
        assert response.status == 401, path


async def test_unknown_or_malformed_instance_id_is_404(service: Service) -> None:
    for instance_id in ("not-a-uuid", "00000000-0000-0000-0000-000000000000"):
        response = await service.client.get(f"{BASE}/{instance_id}", headers=service.auth())
        assert response.status == 404


async def test_status_reconciles_with_evolution(service: Service) -> None:
    created = await service.quick_create(wait_for_qr=True)
    response = await service.client.get(f"{BASE}/{created['instance']['id']}/status",
                                        headers=service.auth())
    body = await response.json()
    assert response.status == 200
    assert body["evolution_state"] == "connecting"
    assert body["state"] == "awaiting_qr"


async def test_logout_then_delete_keeps_the_row_as_deleted(service: Service) -> None:
    created = await service.quick_create(wait_for_qr=True)
    instance_id = created["instance"]["id"]
    logged_out = await service.client.post(f"{BASE}/{instance_id}/logout", headers=service.auth())
    deleted = await service.client.delete(f"{BASE}/{instance_id}", headers=service.auth())
    after = await (await service.client.get(f"{BASE}/{instance_id}", headers=service.auth())).json()
    assert logged_out.status == 200
    assert (await logged_out.json())["state"] == "logged_out"
    assert deleted.status == 204
    assert after["state"] == "deleted"


async def test_restart_is_202_with_the_instance(service: Service) -> None:
    created = await service.quick_create(wait_for_qr=True)
    response = await service.client.post(f"{BASE}/{created['instance']['id']}/restart",
                                         headers=service.auth())
    assert response.status == 202
    assert (await response.json())["id"] == created["instance"]["id"]


async def test_instance_limit_is_409(service: Service) -> None:
    limit = service.container.settings().max_instances_per_org
    for _ in range(limit):
        await service.quick_create("clinic-full")
    response = await service.client.post(f"{BASE}/quick-create",
                                         json={"organization_id": "clinic-full"},
                                         headers=service.auth())
    assert response.status == 409
    assert (await response.json(content_type=PROBLEM))["type"] == "/problems/instance-limit"


async def test_idempotency_key_replays_the_first_answer(service: Service) -> None:
    headers = {**service.auth(), "Idempotency-Key": "k-1"}
    body = {"organization_id": "clinic-i", "display_name": "Front desk"}
    first = await service.client.post(f"{BASE}/quick-create", json=body, headers=headers)
    again = await service.client.post(f"{BASE}/quick-create", json=body, headers=headers)
    changed = await service.client.post(f"{BASE}/quick-create",
                                        json={**body, "display_name": "Other"}, headers=headers)
    assert first.status == again.status == 201
    assert await first.json() == await again.json()
    assert service.fake.calls["instance_create"] == 1
    assert changed.status == 422
    assert (await changed.json(content_type=PROBLEM))["type"] == "/problems/idempotency-mismatch"


async def test_evolution_refusal_is_502_with_its_message(service: Service) -> None:
    service.fake.fail_next("error")
    response = await service.client.post(f"{BASE}/quick-create",
                                         json={"organization_id": "clinic-x"},
                                         headers=service.auth())
    body = await response.json(content_type=PROBLEM)
    assert response.status == 502
    assert body["type"] == "/problems/evolution-error"
    listed = await (await service.client.get(f"{BASE}?organization_id=clinic-x",
                                             headers=service.auth())).json()
    assert [i["state"] for i in listed["items"]] == ["failed"]


async def test_evolution_down_makes_connect_503_with_retry_after(service: Service) -> None:
    created = await service.quick_create()
    await asyncio.sleep(0.1)
    service.fake.down = True
    async with service.container.uow() as uow:  # force a fetch: drop the cached QR
        instance = await uow.instances.get(UUID(created["instance"]["id"]))
        assert instance is not None
        instance.qr = None
        await uow.instances.save(instance)
        await uow.commit()
    response = await service.client.post(f"{BASE}/{created['instance']['id']}/connect",
                                         headers=service.auth())
    assert response.status == 503
    assert int(response.headers["Retry-After"]) >= 1


async def test_legacy_route_use_is_counted_per_organization(service: Service) -> None:
    created = await service.quick_create("clinic-legacy", wait_for_qr=True)
    instance_id = created["instance"]["id"]
    await service.client.post(f"/api/whatsapp/instances/{instance_id}/connect",
                              headers=service.auth("tenant_admin", "clinic-legacy"))
    metrics = await (await service.client.get("/metrics", headers=service.auth("system"))).text()
    assert ('wachannel_legacy_route_calls_total{organization_id="clinic-legacy",'
            'route="connect"} 1.0') in metrics

"""Rollout flags (API.md section 7) and the audit trail (section 8) over HTTP."""

from __future__ import annotations

import attrs

from tests.api.conftest import Service

FLAGS = "/api/admin/feature-flags"
PROBLEM = "application/problem+json"


async def test_new_store_has_radical_solution_at_the_initial_percentage(service: Service) -> None:
    body = await (await service.client.get(FLAGS, headers=service.auth())).json()
    (flag,) = body["items"]
    assert flag["name"] == "radical_solution"
    assert flag["enabled"] is True
    assert flag["percentage"] == 100  # APP_ENV=development
    assert {v["name"] for v in flag["variants"]} == {"unified_qr", "guided_steps"}


async def test_kill_switch_makes_quick_create_403_and_turning_it_on_restores_it(
        service: Service) -> None:
    killed = await service.client.post(FLAGS, json={"radical_solution": False},
                                       headers=service.auth())
    refused = await service.client.post("/api/channels/whatsapp/instances/quick-create",
                                        json={"organization_id": "clinic-k"},
                                        headers=service.auth())
    await service.client.post(FLAGS, json={"radical_solution": True}, headers=service.auth())
    restored = await service.client.post("/api/channels/whatsapp/instances/quick-create",
                                         json={"organization_id": "clinic-k"},
                                         headers=service.auth())
    assert killed.status == 200
    assert refused.status == 403
    assert (await refused.json(content_type=PROBLEM))["type"] == "/problems/feature-disabled"
    assert restored.status == 201


async def test_put_flag_then_evaluate_honours_allow_and_deny_lists(service: Service) -> None:
    response = await service.client.put(f"{FLAGS}/radical_solution", json={
        "enabled": True, "percentage": 0, "allow_orgs": ["clinic-in"],
        "deny_orgs": ["clinic-out"]}, headers=service.auth())
    assert response.status == 200, await response.text()
    allowed = await (await service.client.get(
        "/api/feature-flags/evaluate?organization_id=clinic-in", headers=service.auth())).json()
    other = await (await service.client.get(
        "/api/feature-flags/evaluate", headers=service.auth("tenant_admin", "clinic-zz"))).json()
    assert allowed["flags"]["radical_solution"]["enabled"] is True
    assert allowed["flags"]["radical_solution"]["variant"] in ("unified_qr", "guided_steps")
    assert other["flags"]["radical_solution"] == {"enabled": False, "variant": None}


async def test_put_flag_with_bad_values_is_422(service: Service) -> None:
    response = await service.client.put(f"{FLAGS}/radical_solution", json={
        "enabled": True, "percentage": 101, "allow_orgs": ["a"], "deny_orgs": []},
        headers=service.auth())
    overlap = await service.client.put(f"{FLAGS}/radical_solution", json={
        "enabled": True, "percentage": 10, "allow_orgs": ["a"], "deny_orgs": ["a"]},
        headers=service.auth())
    bad_name = await service.client.put(f"{FLAGS}/bad%20name!", json={
        "enabled": True, "percentage": 10}, headers=service.auth())
    assert response.status == overlap.status == bad_name.status == 422


async def test_advance_walks_the_stages(service: Service) -> None:
    await service.client.put(f"{FLAGS}/radical_solution", json={"enabled": True,
                                                                "percentage": 10},
                             headers=service.auth())
    seen = []
    for _ in range(4):
        response = await service.client.post(f"{FLAGS}/radical_solution/advance",
                                             headers=service.auth())
        seen.append((await response.json())["percentage"])
    assert seen == [25, 50, 100, 100]


async def test_advance_is_refused_while_the_flagged_path_is_unhealthy(service: Service) -> None:
    window = service.container.flagged_path()
    now = service.container.clock().monotonic()
    for ok in [False] * 5 + [True] * 95:
        window.record(ok, now)
    response = await service.client.post(f"{FLAGS}/radical_solution/advance",
                                         headers=service.auth())
    assert response.status == 409
    assert (await response.json(content_type=PROBLEM))["type"] == "/problems/rollout-unhealthy"


async def test_flag_changes_are_audited_with_old_and_new_values(service: Service) -> None:
    await service.client.post(FLAGS, json={"radical_solution": False}, headers=service.auth())
    audit = await (await service.client.get("/api/admin/audit?action=flag_changed",
                                            headers=service.auth())).json()
    (event,) = audit["items"]
    assert event["details"]["old"]["enabled"] is True
    assert event["details"]["new"]["enabled"] is False
    assert event["actor_id"] == "tester"
    assert event["ip_address"] == "127.0.0.1"


async def test_flag_routes_are_admin_only(service: Service) -> None:
    response = await service.client.get(FLAGS, headers=service.auth("tenant_admin", "c1"))
    assert response.status == 403


async def test_audit_events_name_actor_ip_and_agent_and_the_chain_verifies(
        service: Service) -> None:
    await service.quick_create("clinic-au")
    listed = await (await service.client.get(
        "/api/admin/audit?organization_id=clinic-au&action=instance_created",
        headers={**service.auth(), "User-Agent": "pytest-agent"})).json()
    (event,) = listed["items"]
    assert event["actor_type"] == "user"
    assert event["ip_address"] == "127.0.0.1"
    assert event["details"]["instance_name"].startswith("clinic-au-")
    assert "api_response_time" in event["details"]["performance_metrics"]
    verdict = await (await service.client.get("/api/admin/audit/verify",
                                              headers=service.auth())).json()
    assert verdict["valid"] is True
    assert verdict["checked"] >= 1


async def test_tenant_reads_only_its_own_audit(service: Service) -> None:
    await service.quick_create("clinic-t1")
    await service.quick_create("clinic-t2")
    own = await (await service.client.get(
        "/api/admin/audit", headers=service.auth("tenant_admin", "clinic-t1"))).json()
    other = await service.client.get("/api/admin/audit?organization_id=clinic-t2",
                                     headers=service.auth("tenant_admin", "clinic-t1"))
    assert {e["organization_id"] for e in own["items"]} == {"clinic-t1"}
    assert other.status == 403


async def test_tampered_audit_event_is_reported_by_verify(service: Service) -> None:
    await service.quick_create("clinic-tamper")
    store = service.container.memory_store()
    async with store.lock:  # what a superuser editing the table would do
        event_id, row = next((k, r) for k, r in store.audit.items()
                             if r.event.organization_id == "clinic-tamper")
        store.audit[event_id] = attrs.evolve(row, event=attrs.evolve(row.event,
                                                                     actor_id="someone-else"))
    verdict = await (await service.client.get("/api/admin/audit/verify?organization_id="
                                              "clinic-tamper", headers=service.auth())).json()
    assert verdict["valid"] is False
    assert verdict["first_invalid_id"] == str(event_id)

"""GET /api/admin/alerts over real HTTP on the real app (embedded default)."""

from __future__ import annotations

from tests.api.conftest import Service


async def test_recent_alerts_are_listed_for_an_admin_exactly_as_api_md_shows(
        service: Service) -> None:
    engine = service.container.alert_engine()
    await engine.alert("webhook_dead_lettered", "event e-1 parked after 5 attempts")
    await engine.alert("instance_disconnected", "clinic-42/recepcion unlinked", key="inst-1")
    await engine.recover("instance_disconnected", key="inst-1")
    await engine.settled()
    answer = await service.client.get("/api/admin/alerts", headers=service.auth())
    assert answer.status == 200
    items = (await answer.json())["items"]
    assert [(i["rule"], i["state"]) for i in items] == [
        ("instance_disconnected", "resolved"), ("webhook_dead_lettered", "firing")]
    first = items[1]
    assert set(first) == {"id", "rule", "severity", "state", "detail", "first_at", "last_at",
                          "channels"}
    assert first["channels"] == {"log": "sent"}
    assert first["detail"] == "event e-1 parked after 5 attempts"
    assert items[0]["severity"] == "critical"


async def test_alerts_are_for_admins_only(service: Service) -> None:
    anonymous = await service.client.get("/api/admin/alerts")
    assert anonymous.status == 401
    tenant = await service.client.get("/api/admin/alerts",
                                      headers=service.auth("tenant_admin", org="clinic-42"))
    assert tenant.status == 403
    assert tenant.content_type == "application/problem+json"
